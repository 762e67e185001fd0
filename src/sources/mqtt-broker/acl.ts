/**
 * Topic access rules. A rule is an MQTT topic filter that may hold `{username}` and `{clientId}`; for one
 * client the placeholders are filled in at CONNECT. Wildcard levels follow [MQTT-4.7.1]; a filter starting
 * with a wildcard never matches a topic starting with `$` [MQTT-4.7.2-1], so `#` does not grant `$SYS/...`.
 * Placeholder values cannot contain `/`, `+`, `#` or NUL (usernames by the users file's rule, client ids by
 * the CONNECT check), so a device cannot widen its own rule by its name.
 */
export interface AclRules {
  publish: readonly string[];
  subscribe: readonly string[];
}

export interface Identity {
  /** null for anonymous clients: rules using `{username}` grant them nothing. */
  username: string | null;
  clientId: string;
}

/** Expands the placeholders; null when the rule needs a username the client does not have. */
export function expandRule(rule: string, who: Identity): string[] | null {
  if (rule.includes('{username}') && who.username === null) return null;
  return rule.replaceAll('{username}', who.username ?? '').replaceAll('{clientId}', who.clientId).split('/');
}

/** True when `topic` (no wildcards) matches the filter's levels. */
export function topicMatches(filter: readonly string[], topic: string): boolean {
  return levelsMatch(filter, topic, topic.split('/'));
}

/** `topicMatches` with the topic already split into `levels` (one split for all of a client's rules). */
function levelsMatch(filter: readonly string[], topic: string, levels: readonly string[]): boolean {
  if (topic.startsWith('$') && (filter[0] === '+' || filter[0] === '#')) return false;
  for (let i = 0; i < filter.length; i++) {
    const f = filter[i]!;
    // `a/#` also matches `a` [MQTT-4.7.1-2]: `#` is checked before running out of levels.
    if (f === '#') return true;
    if (i >= levels.length) return false;
    if (f !== '+' && f !== levels[i]) return false;
  }
  return levels.length === filter.length;
}

/** True when every topic the requested filter can match is matched by the rule (the filter lies inside it). */
export function filterWithin(rule: readonly string[], requested: string): boolean {
  const levels = requested.split('/');
  if (requested.startsWith('$') && (rule[0] === '+' || rule[0] === '#')) return false;
  for (let i = 0; i < rule.length; i++) {
    const r = rule[i]!;
    if (r === '#') return true;
    if (i >= levels.length) return false;
    const q = levels[i]!;
    if (q === '#') return false;
    if (r === '+') continue;
    if (q !== r) return false;
  }
  return levels.length === rule.length;
}

/** One client's rights, expanded once at CONNECT. */
export class ClientRights {
  private readonly publish: string[][];
  private readonly subscribe: string[][];
  private lastAllowed: string | null = null;

  constructor(rules: AclRules, who: Identity) {
    const expand = (list: readonly string[]): string[][] => list.map((r) => expandRule(r, who)).filter((r): r is string[] => r !== null);
    this.publish = expand(rules.publish);
    this.subscribe = expand(rules.subscribe);
  }

  canPublish(topic: string): boolean {
    // A device publishes to the same topic again and again, and a client's rules never change: the last
    // topic allowed is answered without matching it again (issue: Pi-class efficiency).
    if (topic === this.lastAllowed) return true;
    const levels = topic.split('/');
    for (const rule of this.publish) {
      if (levelsMatch(rule, topic, levels)) {
        this.lastAllowed = topic;
        return true;
      }
    }
    return false;
  }

  canSubscribe(filter: string): boolean {
    return this.subscribe.some((rule) => filterWithin(rule, filter));
  }
}

/** The default rule for authenticated devices: the topic template with `{deviceId}` = the username. */
export function defaultDeviceRule(topicTemplate: string): string {
  return topicTemplate.replaceAll('{deviceId}', '{username}');
}
