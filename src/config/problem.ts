/** One problem in a config file, with the path of the offending key. */
export interface ConfigProblem {
  path: string;
  message: string;
}
