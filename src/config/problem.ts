/** One problem in a config file, with the path of the offending key. */
export interface ConfigProblem {
  path: string;
  message: string;
  /** The same path as segments into the document, for finding the line (absent for problems of no one key). */
  at?: ReadonlyArray<PropertyKey>;
  /** For an unknown key: the key itself, so the line is that of the key rather than of its parent. */
  key?: string;
  /** Where in the file, 1-based, when the problem comes from a file and the key is written in it. */
  line?: number;
  column?: number;
}
