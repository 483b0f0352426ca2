export * from './wait-for.js';
export * from './free-port.js';
export * from './etcd.js';
export * from './process.js';
export * from './http.js';
export * from './control-plane.js';
export * from './certificates.js';
export * from './agent-log-stand-in.js';
