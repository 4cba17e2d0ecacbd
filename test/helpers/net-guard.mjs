// Preloaded into a pipectl child process (NODE_OPTIONS=--import) to prove it talks only to
// loopback: every TCP connect and DNS lookup to anything else is refused and written to the
// file named by PIPECTL_NET_GUARD_LOG.
import { appendFileSync } from 'node:fs';
import dns from 'node:dns';
import net from 'node:net';

const log = process.env.PIPECTL_NET_GUARD_LOG;
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost|::ffff:127\.\d+\.\d+\.\d+)$/;

function record(kind, target) {
  if (log) appendFileSync(log, `${kind} ${target}\n`);
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(...args) {
  const options =
    typeof args[0] === 'object' && args[0] !== null ? args[0] : { port: args[0], host: args[1] };
  const host = options.host ?? 'localhost';
  if (!options.path && !LOOPBACK.test(String(host))) {
    record('connect', `${host}:${options.port}`);
    throw new Error(`blocked connection to ${host}`);
  }
  return connect.apply(this, args);
};

const lookup = dns.lookup;
dns.lookup = function guardedLookup(hostname, ...rest) {
  if (!LOOPBACK.test(String(hostname))) record('lookup', hostname);
  return lookup.call(this, hostname, ...rest);
};
const promisesLookup = dns.promises.lookup;
dns.promises.lookup = function guardedPromisesLookup(hostname, ...rest) {
  if (!LOOPBACK.test(String(hostname))) record('lookup', hostname);
  return promisesLookup.call(this, hostname, ...rest);
};
