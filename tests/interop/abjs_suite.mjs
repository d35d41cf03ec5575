// abjs_suite.mjs: Autobahn|JS interop checks against any WAMP router.
//
//   node --experimental-websocket tests/interop/abjs_suite.mjs --node-modules DIR
//        --realm REALM [--ws URL] [--rawsocket URL] [--serializers json,msgpack,cbor]
//        [--auth-url URL ...] [--auth METHOD:AUTHID:SECRET ...]
//        [--restricted AUTHID:TICKET] [--allowed-prefix com.allowed.]
//        [--only REGEX] [--wait SECONDS] [--check-timeout SECONDS] [--deadline SECONDS]
//
// The JavaScript sibling of ab_suite.py (same arguments, same output, same principals;
// see its docstring). Prints ONE JSON line per check on stdout,
//
//   {"check": "rpc.args_kwargs@ws/json", "ok": true, "detail": "..."}
//
// ending with the check "suite.done", and exits 0 (2 on a usage error). Every wait is
// bounded, so a router that lacks a feature fails its checks instead of hanging.
//
// Autobahn|JS 26.3.1 comes from scripts/js-env.sh, which prints the node_modules dir
// to pass as --node-modules (or set WAMP_JS_NODE_MODULES). On Node 20 its WebSocket
// transport needs `--experimental-websocket` (it uses the global WebSocket); its RawSocket
// transport (Node's net) speaks JSON only, so RawSocket endpoints run with json whatever
// --serializers says. Autobahn|JS has no SCRAM: the auth methods are ticket, wampcra,
// wampcra-salted and cryptosign (tweetnacl, pure JS).
//
// Checks: per endpoint (ws/json, ws/msgpack, ws/cbor, rs/json): rpc.args_kwargs,
// rpc.error, rpc.progressive, rpc.prefix, rpc.wildcard, rpc.shared.roundrobin,
// rpc.shared.first, rpc.shared.last, rpc.caller_disclosure, pubsub.args_kwargs,
// pubsub.acknowledge, pubsub.exclude_me, pubsub.exclude_session, pubsub.eligible_session,
// pubsub.prefix, pubsub.wildcard, pubsub.publisher_disclosure; once:
// interop.mixed_serializers, meta.session.count, meta.session.get, authz.call_allowed,
// authz.call_denied, authz.register_denied, authz.publish_denied, authz.subscribe_denied;
// per auth URL and principal: auth.METHOD.right@SCHEME, auth.METHOD.wrong@SCHEME,
// auth.cryptosign.bad_signature@SCHEME.

import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';

const NOT_AUTHORIZED = 'wamp.error.not_authorized';
const AUTH_METHODS = ['ticket', 'wampcra', 'wampcra-salted', 'cryptosign'];
const SERIALIZERS = ['json', 'msgpack', 'cbor'];

// ---------------------------------------------------------------------------------------
// Command line

function usage(message) {
  process.stderr.write(`abjs_suite.mjs: ${message}\n`);
  process.exit(2);
}

function parseCommandLine() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        'node-modules': { type: 'string' },
        realm: { type: 'string' },
        ws: { type: 'string', multiple: true, default: [] },
        rawsocket: { type: 'string', multiple: true, default: [] },
        serializers: { type: 'string', default: 'json,msgpack,cbor' },
        'auth-url': { type: 'string', multiple: true, default: [] },
        auth: { type: 'string', multiple: true, default: [] },
        restricted: { type: 'string' },
        'allowed-prefix': { type: 'string', default: 'com.allowed.' },
        only: { type: 'string' },
        wait: { type: 'string', default: '5' },
        'check-timeout': { type: 'string', default: '20' },
        deadline: { type: 'string', default: '240' },
      },
      strict: true,
    }).values;
  } catch (e) {
    usage(e.message);
  }
  const ns = {
    nodeModules: parsed['node-modules'] || process.env.WAMP_JS_NODE_MODULES,
    realm: parsed.realm,
    ws: parsed.ws,
    rawsocket: parsed.rawsocket,
    serializers: parsed.serializers.split(',').filter((s) => s),
    authUrl: parsed['auth-url'],
    auth: [],
    restricted: null,
    allowedPrefix: parsed['allowed-prefix'],
    only: parsed.only ? new RegExp(parsed.only) : null,
    wait: Number(parsed.wait) * 1000,
    checkTimeout: Number(parsed['check-timeout']) * 1000,
    deadline: Number(parsed.deadline) * 1000,
  };
  if (!ns.realm) usage('--realm is required');
  if (!ns.nodeModules) usage('--node-modules (or WAMP_JS_NODE_MODULES) is required: run scripts/js-env.sh');
  for (const s of ns.serializers) if (!SERIALIZERS.includes(s)) usage(`unknown serializer ${s}`);
  if (!ns.serializers.length) usage('--serializers is empty');
  for (const n of [ns.wait, ns.checkTimeout, ns.deadline]) if (!(n > 0)) usage('times must be positive numbers');
  for (const spec of parsed.auth) {
    const [method, authid, ...rest] = spec.split(':');
    if (!AUTH_METHODS.includes(method) || !authid || !rest.length) {
      usage(`--auth wants METHOD:AUTHID:SECRET with METHOD one of ${AUTH_METHODS.join(', ')}; got ${spec}`);
    }
    ns.auth.push({ method, authid, secret: rest.join(':') });
  }
  if (parsed.restricted) {
    const [authid, ...rest] = parsed.restricted.split(':');
    if (!authid || !rest.length) usage('--restricted wants AUTHID:TICKET');
    ns.restricted = { method: 'ticket', authid, secret: rest.join(':') };
  }
  for (const url of [...ns.ws, ...ns.rawsocket, ...ns.authUrl]) {
    try {
      endpoint(url, 'json');
    } catch (e) {
      usage(e.message);
    }
  }
  return ns;
}

function endpoint(url, serializer) {
  const u = new URL(url);
  const scheme = u.protocol.replace(/:$/, '');
  if (scheme !== 'ws' && scheme !== 'rs') throw new Error(`${url}: only ws:// and rs:// URLs are supported`);
  if (!u.hostname || !u.port) throw new Error(`${url} needs an explicit host and port`);
  // Autobahn|JS's RawSocket speaks JSON only.
  const ser = scheme === 'rs' ? 'json' : serializer;
  return { url, scheme, host: u.hostname, port: Number(u.port), serializer: ser, tag: `${scheme}/${ser}` };
}

const ns = parseCommandLine();
const require = createRequire(path.join(path.resolve(ns.nodeModules), 'abjs_suite_loader.js'));
const autobahn = require('autobahn');

// ---------------------------------------------------------------------------------------
// Output and expectations

function emit(name, ok, detail) {
  process.stdout.write(JSON.stringify({ check: name, ok: Boolean(ok), detail: String(detail) }) + '\n');
}

class CheckFailed extends Error {}

function expect(cond, detail) {
  if (!cond) throw new CheckFailed(detail);
}

function short(value, limit = 300) {
  let text;
  try {
    text = JSON.stringify(value, (k, v) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    text = String(value);
  }
  if (text === undefined) text = String(value);
  return text.length <= limit ? text : text.slice(0, limit) + '...';
}

// Structural equality over what the serializers produce (Buffers compared by bytes).
function same(a, b) {
  if (Buffer.isBuffer(a) || a instanceof Uint8Array) {
    return (Buffer.isBuffer(b) || b instanceof Uint8Array) && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
  }
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a && typeof a === 'object') {
    if (!b || typeof b !== 'object' || Array.isArray(b)) return false;
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return same(ka, kb) && ka.every((k) => same(a[k], b[k]));
  }
  return a === b;
}

function payload(serializer) {
  // 2^53 - 1, not 2^53: a JS number above MAX_SAFE_INTEGER is encoded as a float by
  // node-cbor and comes back from CBOR as a BigInt (ab_suite.py covers 2^53 itself).
  const args = [1, 'zwei', [3, { vier: 4.5 }], true, null, Number.MAX_SAFE_INTEGER, '\u00e9\u4e2d\u{1f600}'];
  const kwargs = { a: 1, b: [1, 2, { c: 'd' }], neg: -7, pi: 3.25 };
  if (serializer !== 'json') {
    // Autobahn|JS's JSON serializer has no binary convention; msgpack and CBOR carry bytes.
    args.push(Buffer.from([0, 1, 254, 255]));
    kwargs.bin = Buffer.from([16, 0]);
  }
  return { args, kwargs };
}

// ---------------------------------------------------------------------------------------
// Sessions

class Refused extends Error {
  constructor(reason, message) {
    super(message ? `${reason}: ${message}` : String(reason));
    this.reason = reason;
  }
}

function timeout(ms, what) {
  let timer;
  const promise = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckFailed(`no ${what} within ${ms / 1000}s`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

// Awaits `promise` (any thenable) for at most the wait bound.
async function within(ctx, promise, what) {
  const t = timeout(ctx.wait, what);
  try {
    return await Promise.race([Promise.resolve(promise), t.promise]);
  } finally {
    t.cancel();
  }
}

function serializerFor(name) {
  const s = autobahn.serializer;
  return { json: () => new s.JSONSerializer(), msgpack: () => new s.MsgpackSerializer(), cbor: () => new s.CBORSerializer() }[name]();
}

function hexToBytes(hex) {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

function authOptions(p, tamper) {
  const wrongSig = (sig) => (tamper ? (sig[0] === '0' ? '1' : '0') + sig.slice(1) : sig);
  switch (p.method) {
    case 'ticket':
      return { authmethods: ['ticket'], authid: p.authid, onchallenge: () => p.secret };
    case 'wampcra':
    case 'wampcra-salted':
      return {
        authmethods: ['wampcra'],
        authid: p.authid,
        onchallenge: (session, method, extra) => {
          const key = extra.salt
            ? autobahn.auth_cra.derive_key(p.secret, extra.salt, extra.iterations, extra.keylen)
            : p.secret;
          return autobahn.auth_cra.sign(key, extra.challenge);
        },
      };
    case 'cryptosign': {
      const pair = autobahn.nacl.sign.keyPair.fromSeed(hexToBytes(p.secret));
      return {
        authmethods: ['cryptosign'],
        authid: p.authid,
        authextra: { pubkey: Buffer.from(pair.publicKey).toString('hex') },
        onchallenge: (session, method, extra) => wrongSig(autobahn.auth_cryptosign.sign_challenge(pair, extra)),
      };
    }
    default:
      throw new Error(`unknown auth method ${p.method}`);
  }
}

class Ctx {
  constructor(ns) {
    this.ns = ns;
    this.wait = ns.wait;
    this.peers = [];
    this.root = 'jssuite' + randomBytes(4).toString('hex');
    this.counter = 0;
  }

  uri(...parts) {
    this.counter += 1;
    return [this.root, `c${this.counter}`, ...parts].join('.');
  }

  // Joins the realm through `ep`; `auth` is {method, authid, secret} or null.
  async open(ep, auth = null, tamper = false) {
    const transport =
      ep.scheme === 'ws'
        ? { type: 'websocket', url: ep.url, serializers: [serializerFor(ep.serializer)] }
        : { type: 'rawsocket', url: ep.url, host: ep.host, port: ep.port };
    const options = {
      realm: this.ns.realm,
      transports: [transport],
      max_retries: 0,
      retry_if_unreachable: false,
      ...(auth ? authOptions(auth, tamper) : {}),
    };
    const conn = new autobahn.Connection(options);
    let settle;
    const joined = new Promise((resolve, reject) => {
      settle = { resolve, reject };
    });
    let markClosed;
    const closed = new Promise((resolve) => {
      markClosed = resolve;
    });
    conn.onopen = (session, details) => settle.resolve({ session, details });
    conn.onclose = (reason, details) => {
      settle.reject(new Refused(details.reason || `suite.${reason}`, details.message));
      markClosed();
      return true; // never reconnect
    };
    const peer = { conn, closed, ep };
    this.peers.push(peer);
    conn.open();
    const { session, details } = await within(this, joined, `WELCOME at ${ep.url}`);
    peer.session = session;
    peer.details = details;
    peer.id = session.id;
    return peer;
  }

  async closeAll() {
    const peers = this.peers;
    this.peers = [];
    await Promise.all(peers.map((p) => closePeer(this, p)));
  }
}

async function closePeer(ctx, peer) {
  try {
    peer.conn.close();
  } catch {
    // already closed
  }
  const t = timeout(ctx.wait, 'close');
  try {
    await Promise.race([peer.closed, t.promise]);
  } catch {
    // a connection that does not close in time is dropped with the process
  } finally {
    t.cancel();
  }
}

class Inbox {
  constructor() {
    this.items = [];
    this.waiters = [];
  }

  put(item) {
    this.items.push(item);
    for (const w of this.waiters.splice(0)) w();
  }

  until(ctx, pred, what) {
    const wait = async () => {
      while (!pred(this.items)) {
        await new Promise((resolve) => this.waiters.push(resolve));
      }
      return this.items;
    };
    return within(ctx, wait(), what);
  }
}

async function subscribeInbox(peer, topic, options = {}) {
  const inbox = new Inbox();
  const sub = await peer.session.subscribe(topic, (args, kwargs, details) => inbox.put({ args: args || [], kwargs: kwargs || {}, details }), options);
  return { inbox, sub };
}

function beforeSentinel(items) {
  const before = [];
  for (const item of items) {
    if (item.args[0] === 'sentinel') return { before, done: true };
    before.push(item.args[0]);
  }
  return { before, done: false };
}

async function untilSentinel(ctx, inbox, who) {
  await inbox.until(ctx, (items) => beforeSentinel(items).done, `sentinel event at ${who}`);
  return beforeSentinel(inbox.items).before;
}

async function expectError(ctx, promise, uri, what) {
  let result;
  try {
    result = await within(ctx, promise, `answer to ${what}`);
  } catch (e) {
    if (e instanceof CheckFailed) throw e;
    const got = e && e.error ? e.error : String(e);
    expect(got === uri, `${what}: got ${got} ${short(e && e.args)}, wanted ${uri}`);
    return e;
  }
  throw new CheckFailed(`${what}: succeeded (${short(result)}), wanted ${uri}`);
}

// ---------------------------------------------------------------------------------------
// Checks on every endpoint

const ENDPOINT_CHECKS = [];
const perEndpoint = (name, fn) => ENDPOINT_CHECKS.push([name, fn]);

perEndpoint('rpc.args_kwargs', async (ctx, ep) => {
  const callee = await ctx.open(ep);
  const caller = await ctx.open(ep);
  const proc = ctx.uri('echo');
  const { args, kwargs } = payload(ep.serializer);
  await callee.session.register(proc, (a, kw) => new autobahn.Result([...(a || [])].reverse(), { got: kw || {} }));
  const res = await within(ctx, caller.session.call(proc, args, kwargs), 'RESULT');
  expect(res instanceof autobahn.Result, `RESULT is ${short(res)}`);
  expect(same(res.args, [...args].reverse()), `args came back as ${short(res.args)}`);
  expect(same(res.kwargs, { got: kwargs }), `kwargs came back as ${short(res.kwargs)}`);
  return `${args.length} args and ${Object.keys(kwargs).length} kwargs round-tripped${ep.serializer === 'json' ? '' : ', bytes included'}`;
});

perEndpoint('rpc.error', async (ctx, ep) => {
  const callee = await ctx.open(ep);
  const caller = await ctx.open(ep);
  const proc = ctx.uri('fail');
  await callee.session.register(proc, () => {
    throw new autobahn.Error('com.example.error.custom', ['one', 2], { detail: { x: [1] } });
  });
  const e = await expectError(ctx, caller.session.call(proc, [1]), 'com.example.error.custom', 'call');
  expect(same(e.args, ['one', 2]) && same(e.kwargs, { detail: { x: [1] } }), `error payload ${short([e.args, e.kwargs])}`);
  return 'ERROR com.example.error.custom with args and kwargs';
});

perEndpoint('rpc.progressive', async (ctx, ep) => {
  const callee = await ctx.open(ep);
  const caller = await ctx.open(ep);
  const proc = ctx.uri('progress');
  await callee.session.register(proc, async (a, kw, details) => {
    if (!details.progress) return 'no receive_progress in INVOCATION';
    for (let i = 0; i < a[0]; i++) {
      details.progress([i], { step: 'p' });
      await new Promise((r) => setTimeout(r, 10));
    }
    return 'done';
  });
  const seen = [];
  const call = caller.session.call(proc, [3], {}, { receive_progress: true });
  // Autobahn|JS reports progress through the when.js promise's progress handler.
  const final = new Promise((resolve, reject) => call.then(resolve, reject, (p) => seen.push(p)));
  const res = await within(ctx, final, 'final RESULT');
  expect(res === 'done', `final result ${short(res)}`);
  const want = [0, 1, 2].map((i) => ({ args: [i], kwargs: { step: 'p' } }));
  expect(same(seen.map((r) => ({ args: r.args, kwargs: r.kwargs })), want), `progress ${short(seen)}`);
  return '3 progressive RESULTs then the final one';
});

perEndpoint('rpc.prefix', async (ctx, ep) => {
  const callee = await ctx.open(ep);
  const caller = await ctx.open(ep);
  const base = ctx.uri('pre');
  await callee.session.register(base, (a, kw, details) => details.procedure, { match: 'prefix' });
  const got = await within(ctx, caller.session.call(base + '.a.b'), 'RESULT');
  expect(got === base + '.a.b', `details.procedure was ${short(got)}`);
  return 'prefix registration invoked with details.procedure = the called URI';
});

perEndpoint('rpc.wildcard', async (ctx, ep) => {
  const callee = await ctx.open(ep);
  const caller = await ctx.open(ep);
  const root = ctx.uri();
  await callee.session.register(root + '.w..end', (a, kw, details) => details.procedure, { match: 'wildcard' });
  const got = await within(ctx, caller.session.call(root + '.w.middle.end'), 'RESULT');
  expect(got === root + '.w.middle.end', `details.procedure was ${short(got)}`);
  await expectError(ctx, caller.session.call(root + '.w.middle.other'), 'wamp.error.no_such_procedure', 'call of a non-matching URI');
  return 'wildcard registration matched one component, details.procedure set';
});

async function shared(ctx, ep, policy, calls) {
  const caller = await ctx.open(ep);
  const proc = ctx.uri('shared');
  for (let i = 0; i < 3; i++) {
    const callee = await ctx.open(ep);
    await callee.session.register(proc, () => `callee${i}`, { invoke: policy });
  }
  const served = [];
  for (let i = 0; i < calls; i++) served.push(await within(ctx, caller.session.call(proc), 'RESULT'));
  const counts = {};
  for (const n of ['callee0', 'callee1', 'callee2']) counts[n] = served.filter((s) => s === n).length;
  return { served, counts };
}

perEndpoint('rpc.shared.roundrobin', async (ctx, ep) => {
  const { served, counts } = await shared(ctx, ep, 'roundrobin', 6);
  expect(same(served.slice(0, 3), served.slice(3)) && same([...served.slice(0, 3)].sort(), ['callee0', 'callee1', 'callee2']), `served in order ${short(served)}`);
  return `served ${short(counts)}`;
});

perEndpoint('rpc.shared.first', async (ctx, ep) => {
  const { counts } = await shared(ctx, ep, 'first', 4);
  expect(counts.callee0 === 4, `served ${short(counts)}`);
  return `served ${short(counts)}`;
});

perEndpoint('rpc.shared.last', async (ctx, ep) => {
  const { counts } = await shared(ctx, ep, 'last', 4);
  expect(counts.callee2 === 4, `served ${short(counts)}`);
  return `served ${short(counts)}`;
});

perEndpoint('rpc.caller_disclosure', async (ctx, ep) => {
  const callee = await ctx.open(ep);
  const caller = await ctx.open(ep);
  const proc = ctx.uri('who');
  await callee.session.register(proc, (a, kw, d) => new autobahn.Result([d.caller, d.caller_authid || null, d.caller_authrole || null]));
  const got = await within(ctx, caller.session.call(proc, [], {}, { disclose_me: true }), 'RESULT');
  expect(got.args[0] === caller.id, `INVOCATION.Details.caller ${got.args[0]} (caller is ${caller.id})`);
  return `caller ${got.args[0]}, authid ${got.args[1]}, authrole ${got.args[2]}`;
});

perEndpoint('pubsub.args_kwargs', async (ctx, ep) => {
  const sub = await ctx.open(ep);
  const pub = await ctx.open(ep);
  const topic = ctx.uri('t');
  const { args, kwargs } = payload(ep.serializer);
  const { inbox } = await subscribeInbox(sub, topic);
  await within(ctx, pub.session.publish(topic, args, kwargs, { acknowledge: true }), 'PUBLISHED');
  const [ev] = await inbox.until(ctx, (items) => items.length >= 1, 'EVENT');
  expect(same(ev.args, args), `args ${short(ev.args)}`);
  expect(same(ev.kwargs, kwargs), `kwargs ${short(ev.kwargs)}`);
  return 'EVENT carried args and kwargs';
});

perEndpoint('pubsub.acknowledge', async (ctx, ep) => {
  const pub = await ctx.open(ep);
  const publication = await within(ctx, pub.session.publish(ctx.uri('ack'), [1], {}, { acknowledge: true }), 'PUBLISHED');
  expect(publication && Number.isInteger(publication.id) && publication.id > 0, `PUBLISHED gave ${short(publication)}`);
  return `PUBLISHED with publication id ${publication.id}`;
});

perEndpoint('pubsub.exclude_me', async (ctx, ep) => {
  const me = await ctx.open(ep);
  const topic = ctx.uri('me');
  const { inbox } = await subscribeInbox(me, topic);
  await within(ctx, me.session.publish(topic, ['default'], {}, { acknowledge: true }), 'PUBLISHED');
  await within(ctx, me.session.publish(topic, ['excluded'], {}, { acknowledge: true, exclude_me: true }), 'PUBLISHED');
  await within(ctx, me.session.publish(topic, ['sentinel'], {}, { acknowledge: true, exclude_me: false }), 'PUBLISHED');
  const before = await untilSentinel(ctx, inbox, 'the publisher');
  expect(before.length === 0, `the publisher also received ${short(before)}`);
  return 'exclude_me=false delivers to the publisher; the default and true do not';
});

async function filtered(ctx, ep, options, [wantA, wantB]) {
  const a = await ctx.open(ep);
  const b = await ctx.open(ep);
  const pub = await ctx.open(ep);
  const topic = ctx.uri('bw');
  const ia = (await subscribeInbox(a, topic)).inbox;
  const ib = (await subscribeInbox(b, topic)).inbox;
  const opts = options(a, b);
  await within(ctx, pub.session.publish(topic, ['filtered'], {}, { acknowledge: true, ...opts }), 'PUBLISHED');
  await within(ctx, pub.session.publish(topic, ['sentinel'], {}, { acknowledge: true }), 'PUBLISHED');
  const gotA = await untilSentinel(ctx, ia, 'subscriber a');
  const gotB = await untilSentinel(ctx, ib, 'subscriber b');
  expect(same(gotA, wantA ? ['filtered'] : []) && same(gotB, wantB ? ['filtered'] : []), `a got ${short(gotA)}, b got ${short(gotB)} (options ${short(opts)})`);
  return `a got ${short(gotA)}, b got ${short(gotB)}`;
}

perEndpoint('pubsub.exclude_session', (ctx, ep) => filtered(ctx, ep, (a) => ({ exclude: [a.id] }), [false, true]));
perEndpoint('pubsub.eligible_session', (ctx, ep) => filtered(ctx, ep, (a) => ({ eligible: [a.id] }), [true, false]));

async function patternSubscription(ctx, ep, match, pattern, topic, miss) {
  const sub = await ctx.open(ep);
  const pub = await ctx.open(ep);
  const { inbox } = await subscribeInbox(sub, pattern, { match });
  await within(ctx, pub.session.publish(miss, ['miss'], {}, { acknowledge: true }), 'PUBLISHED');
  await within(ctx, pub.session.publish(topic, ['hit'], {}, { acknowledge: true }), 'PUBLISHED');
  const [ev] = await inbox.until(ctx, (items) => items.length >= 1, 'EVENT');
  expect(same(ev.args, ['hit']), `first EVENT ${short(ev.args)} (the non-matching topic was delivered?)`);
  expect(ev.details.topic === topic, `EVENT.Details.topic ${ev.details.topic}, wanted ${topic}`);
  return `${match} subscription got the event with details.topic`;
}

perEndpoint('pubsub.prefix', (ctx, ep) => {
  const r = ctx.uri();
  return patternSubscription(ctx, ep, 'prefix', r + '.p', r + '.p.x.y', r + '.q.x');
});

perEndpoint('pubsub.wildcard', (ctx, ep) => {
  const r = ctx.uri();
  return patternSubscription(ctx, ep, 'wildcard', r + '.w..z', r + '.w.mid.z', r + '.w.mid.y');
});

perEndpoint('pubsub.publisher_disclosure', async (ctx, ep) => {
  const sub = await ctx.open(ep);
  const pub = await ctx.open(ep);
  const topic = ctx.uri('disclose');
  const { inbox } = await subscribeInbox(sub, topic);
  await within(ctx, pub.session.publish(topic, [1], {}, { acknowledge: true, disclose_me: true }), 'PUBLISHED');
  const [ev] = await inbox.until(ctx, (items) => items.length >= 1, 'EVENT');
  expect(ev.details.publisher === pub.id, `EVENT.Details.publisher ${ev.details.publisher} (publisher is ${pub.id})`);
  return `publisher ${ev.details.publisher}, authid ${ev.details.publisher_authid}, authrole ${ev.details.publisher_authrole}`;
});

// ---------------------------------------------------------------------------------------
// Checks run once

const ONCE_CHECKS = [];
const once = (name, fn) => ONCE_CHECKS.push([name, fn]);

once('interop.mixed_serializers', async (ctx, eps) => {
  expect(eps.length >= 2, 'needs at least two endpoints');
  const root = ctx.uri();
  const { args, kwargs } = payload('json');
  for (const [i, ep] of eps.entries()) {
    const callee = await ctx.open(ep);
    await callee.session.register(`${root}.e${i}`, (a, kw) => new autobahn.Result([ep.tag, a || [], kw || {}]));
  }
  const bad = [];
  for (const ep of eps) {
    const caller = await ctx.open(ep);
    for (const [i, calleeEp] of eps.entries()) {
      const res = await within(ctx, caller.session.call(`${root}.e${i}`, args, kwargs), 'RESULT');
      if (!same(res.args, [calleeEp.tag, args, kwargs])) bad.push(`${ep.tag}->${calleeEp.tag}: ${short(res.args, 120)}`);
    }
  }
  expect(!bad.length, bad.join('; '));
  return `${eps.length}x${eps.length} caller/callee pairs agree on every value`;
});

once('meta.session.count', async (ctx, eps) => {
  const observer = await ctx.open(eps[0]);
  const before = await within(ctx, observer.session.call('wamp.session.count'), 'wamp.session.count');
  await ctx.open(eps[0]);
  await ctx.open(eps[eps.length - 1]);
  const after = await within(ctx, observer.session.call('wamp.session.count'), 'wamp.session.count');
  expect(Number.isInteger(before) && after === before + 2, `count ${before} then ${after} after two joins`);
  return `count ${before} -> ${after}`;
});

once('meta.session.get', async (ctx, eps) => {
  const observer = await ctx.open(eps[0]);
  const a = await ctx.open(eps[eps.length - 1]);
  const got = await within(ctx, observer.session.call('wamp.session.get', [a.id]), 'wamp.session.get');
  expect(got && got.session === a.id && got.authid === a.details.authid, `get returned ${short(got)}`);
  await expectError(ctx, observer.session.call('wamp.session.get', [1]), 'wamp.error.no_such_session', 'wamp.session.get of an unknown id');
  return `details of ${a.id} with authid ${got.authid}`;
});

async function restrictedPeer(ctx, eps) {
  expect(ctx.ns.authUrl.length && ctx.ns.restricted, 'skipped: needs --auth-url and --restricted');
  return ctx.open(endpoint(ctx.ns.authUrl[0], eps[0].serializer), ctx.ns.restricted);
}

once('authz.call_allowed', async (ctx, eps) => {
  const r = await restrictedPeer(ctx, eps);
  const callee = await ctx.open(eps[0]);
  const proc = ctx.ns.allowedPrefix + ctx.uri('ok');
  await callee.session.register(proc, () => 'allowed');
  const got = await within(ctx, r.session.call(proc), 'RESULT');
  expect(got === 'allowed', `got ${short(got)}`);
  return `${r.details.authid} (${r.details.authrole}) may call under ${ctx.ns.allowedPrefix}`;
});

once('authz.call_denied', async (ctx, eps) => {
  const r = await restrictedPeer(ctx, eps);
  const callee = await ctx.open(eps[0]);
  const proc = 'com.denied.' + ctx.uri('no');
  await callee.session.register(proc, () => 'leaked');
  await expectError(ctx, r.session.call(proc), NOT_AUTHORIZED, 'call outside the permissions');
  return 'call refused with wamp.error.not_authorized';
});

once('authz.register_denied', async (ctx, eps) => {
  const r = await restrictedPeer(ctx, eps);
  await expectError(ctx, r.session.register(ctx.ns.allowedPrefix + ctx.uri('reg'), () => null), NOT_AUTHORIZED, 'register without the register permission');
  return 'register refused with wamp.error.not_authorized';
});

once('authz.publish_denied', async (ctx, eps) => {
  const r = await restrictedPeer(ctx, eps);
  await expectError(ctx, r.session.publish(ctx.ns.allowedPrefix + ctx.uri('pub'), [1], {}, { acknowledge: true }), NOT_AUTHORIZED, 'acknowledged publish without the publish permission');
  return 'publish refused with wamp.error.not_authorized';
});

once('authz.subscribe_denied', async (ctx, eps) => {
  const r = await restrictedPeer(ctx, eps);
  await expectError(ctx, r.session.subscribe('com.denied.' + ctx.uri('sub'), () => null), NOT_AUTHORIZED, 'subscribe outside the permissions');
  return 'subscribe refused with wamp.error.not_authorized';
});

// ---------------------------------------------------------------------------------------
// Authentication

const WRONG_SEED = '6f'.repeat(32);

function wrong(p) {
  return { ...p, secret: p.method === 'cryptosign' ? WRONG_SEED : p.secret + '-wrong' };
}

async function authRight(ctx, ep, p) {
  const peer = await ctx.open(ep, p);
  const d = peer.details;
  const wireMethod = p.method === 'wampcra-salted' ? 'wampcra' : p.method;
  expect(d.authmethod === wireMethod, `joined with authmethod ${d.authmethod}`);
  expect(d.authid === p.authid, `joined as authid ${d.authid}`);
  await within(ctx, peer.session.publish(ctx.uri('authed'), [1], {}, { acknowledge: true }), 'PUBLISHED after joining');
  return `joined as ${d.authid} role ${d.authrole} via ${d.authmethod}`;
}

async function authRefused(ctx, ep, p, tamper, what) {
  let peer;
  try {
    peer = await ctx.open(ep, p, tamper);
  } catch (e) {
    if (!(e instanceof Refused)) throw e;
    expect(e.reason === NOT_AUTHORIZED, `refused with ${e.message}, wanted ${NOT_AUTHORIZED}`);
    return `refused: ${e.message}`;
  }
  throw new CheckFailed(`joined with ${what} as ${peer.details.authid} (${peer.details.authrole})`);
}

// ---------------------------------------------------------------------------------------
// Runner

async function runCheck(ctx, name, make, deadline) {
  if (ctx.ns.only && !ctx.ns.only.test(name)) return null;
  if (Date.now() > deadline) {
    emit(name, false, "not run: the suite's --deadline passed");
    return false;
  }
  const started = Date.now();
  let ok = false;
  let detail;
  const t = timeout(ctx.ns.checkTimeout, 'end of the check');
  try {
    detail = await Promise.race([make(), t.promise]);
    ok = true;
  } catch (e) {
    if (e instanceof CheckFailed) detail = e.message;
    else if (e instanceof Refused) detail = `session refused: ${e.message}`;
    else if (e && e.error) detail = `unexpected ERROR ${e.error} ${short(e.args)} ${short(e.kwargs)}`;
    else detail = `${(e && e.stack) || e}`.split('\n').slice(0, 4).join(' | ');
  } finally {
    t.cancel();
    await ctx.closeAll();
  }
  emit(name, ok, `${detail} [${((Date.now() - started) / 1000).toFixed(2)}s]`);
  return ok;
}

async function main() {
  const ctx = new Ctx(ns);
  const deadline = Date.now() + ns.deadline;
  const results = [];
  if (ns.ws.length && typeof WebSocket === 'undefined') {
    emit('suite.websocket', false, `Node ${process.version} has no global WebSocket: run node with --experimental-websocket`);
  }
  const eps = [];
  for (const url of ns.ws) for (const s of ns.serializers) eps.push(endpoint(url, s));
  for (const url of ns.rawsocket) eps.push(endpoint(url, 'json'));
  for (const ep of eps) {
    for (const [name, fn] of ENDPOINT_CHECKS) {
      results.push(await runCheck(ctx, `${name}@${ep.tag}`, () => fn(ctx, ep), deadline));
    }
  }
  if (eps.length) {
    for (const [name, fn] of ONCE_CHECKS) results.push(await runCheck(ctx, name, () => fn(ctx, eps), deadline));
  }
  for (const url of ns.authUrl) {
    const ep = endpoint(url, ns.serializers[0]);
    for (const p of ns.auth) {
      const at = `${p.method}.%s@${ep.scheme}`;
      results.push(await runCheck(ctx, `auth.${at.replace('%s', 'right')}`, () => authRight(ctx, ep, p), deadline));
      results.push(await runCheck(ctx, `auth.${at.replace('%s', 'wrong')}`, () => authRefused(ctx, ep, wrong(p), false, 'a wrong secret'), deadline));
      if (p.method === 'cryptosign') {
        results.push(await runCheck(ctx, `auth.${at.replace('%s', 'bad_signature')}`, () => authRefused(ctx, ep, p, true, 'a falsified signature'), deadline));
      }
    }
  }
  const ran = results.filter((r) => r !== null);
  const failed = ran.filter((r) => !r).length;
  emit('suite.done', true, `${ran.length} checks, ${ran.length - failed} passed, ${failed} failed`);
}

// Autobahn|JS reports some failures (a refused join, a closed transport) as unhandled
// rejections of promises nobody awaits any more; they are diagnostics, not suite results.
process.on('unhandledRejection', (e) => process.stderr.write(`abjs_suite: unhandled rejection: ${short(e && (e.error || e.message || e))}\n`));

main().then(
  () => process.exit(0),
  (e) => {
    emit('suite.crashed', false, `${(e && e.stack) || e}`);
    process.exit(0);
  },
);
