import http from 'node:http';
import https from 'node:https';

/** Reused connections, at most 16 per host: the SDK's handler and the direct Kinesis calls alike. */
export function keepAliveAgents(): { http: http.Agent; https: https.Agent } {
  return { http: new http.Agent({ keepAlive: true, maxSockets: 16 }), https: new https.Agent({ keepAlive: true, maxSockets: 16 }) };
}
