/**
 * Maps MQTT topics to device ids with a template such as `devices/{deviceId}/#`:
 * `{deviceId}` captures one level, `+` matches any one level, a trailing `#` matches any remaining levels
 * (including none, as in MQTT filters [MQTT-4.7.1-2]).
 */
export type TopicMatcher = (topic: string) => string | null;

export function compileTopicTemplate(template: string): TopicMatcher {
  const levels = template.split('/');
  const multi = levels[levels.length - 1] === '#';
  const fixed = multi ? levels.slice(0, -1) : levels;
  const deviceLevel = fixed.indexOf('{deviceId}');
  if (deviceLevel < 0) throw new Error(`topic template "${template}" has no {deviceId} level`);
  if (fixed.includes('#')) throw new Error(`topic template "${template}": "#" is only allowed as the last level`);

  // Devices publish to the same few topics again and again: remembered answers save a split and an array
  // per reading (issue: Pi-class efficiency). Bounded: when full it starts over, which costs only re-matching.
  const remembered = new Map<string, string | null>();
  return (topic: string) => {
    const known = remembered.get(topic);
    if (known !== undefined) return known;
    const deviceId = matchTopic(topic);
    // Long topics are matched each time: a device sending unique long topics must not fill memory.
    if (topic.length > REMEMBERED_TOPIC_CHARS) return deviceId;
    if (remembered.size >= REMEMBERED_TOPICS) remembered.clear();
    remembered.set(topic, deviceId);
    return deviceId;
  };

  function matchTopic(topic: string): string | null {
    const parts = topic.split('/');
    if (multi ? parts.length < fixed.length : parts.length !== fixed.length) return null;
    for (let i = 0; i < fixed.length; i++) {
      const want = fixed[i];
      const got = parts[i]!;
      if (want === '{deviceId}' || want === '+') {
        if (got.length === 0) return null;
      } else if (want !== got) {
        return null;
      }
    }
    return parts[deviceLevel]!;
  }
}

/** Topics whose device id a matcher remembers, each of at most so many characters: about 1 MiB at most. */
const REMEMBERED_TOPICS = 4096;
const REMEMBERED_TOPIC_CHARS = 128;
