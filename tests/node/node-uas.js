#!/usr/bin/env node
// node-uas.js - an internal IM&P node played by the npm "sip" package
// (package.json pins it), for tests/integration/t-node-sip.sh.
//
//   node node-uas.js --address 127.0.N.11 --port 5062 --record FILE
//                    [--ready FILE] [--timeout SECONDS]
//
// Listens on TCP ADDRESS:PORT (no UDP) and answers every request but ACK
// and BENOTIFY with 200 (To tag, Contact, Expires for SUBSCRIBE). After
// the 200 to a SUBSCRIBE it sends a NOTIFY in that dialog, as a presence
// server does: Request-URI = the subscriber's Contact, Route = the
// SUBSCRIBE's Record-Route entries in order. Every message received or
// sent is appended to FILE in sippeer's record format ("=== sippeer
// received|sent TIME from PEER ===", then the message as the sip package
// prints it), so that `sippeer.py inspect FILE` reads it. Exits after
// --timeout seconds (default 60) or on SIGTERM.
'use strict';

const fs = require('fs');
const net = require('net');
const path = require('path');

const args = {};
for (let i = 2; i < process.argv.length; i += 2)
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const address = args.address || '127.0.0.1';
const port = parseInt(args.port || '5062', 10);
const record = args.record || 'node.rec';
const timeout = parseFloat(args.timeout || '60');

// The edge serves only configured nodes, recognised by source address:
// connections the sip package opens must come from the node's address.
const connect = net.connect;
net.connect = net.createConnection = function (p, host, cb) {
  if (typeof p === 'number')
    return connect.call(net, { port: p, host: host, localAddress: address }, cb);
  return connect.apply(net, arguments);
};

const sip = require(path.join(__dirname, 'node_modules', 'sip'));

function stamp() {
  const d = new Date();
  const p = (n, w) => String(n).padStart(w || 2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
function log(direction, m, remote) {
  const peer = remote ? `${remote.address}:${remote.port}` : '';
  fs.appendFileSync(record, `=== sippeer ${direction} ${stamp()} from ${peer} ===\n` +
                    sip.stringify(m) + '\n');
}

const tag = Math.random().toString(36).slice(2, 10);
const contact = [{ uri: `sip:bob@${address}:${port};transport=tcp` }];
let cseq = 1;

function notify(rq) {
  const route = (rq.headers['record-route'] || []).map(r => ({ uri: r.uri, params: r.params }));
  const to = JSON.parse(JSON.stringify(rq.headers.from));
  const from = JSON.parse(JSON.stringify(rq.headers.to));
  from.params = Object.assign({}, from.params, { tag: tag });
  const body = '<?xml version="1.0"?>\r\n<presence xmlns="urn:ietf:params:xml:ns:pidf" ' +
    `entity="${sip.stringifyUri(rq.uri)}"><tuple id="t1"><status><basic>open</basic>` +
    '</status></tuple></presence>\r\n';
  sip.send({
    method: 'NOTIFY',
    uri: rq.headers.contact[0].uri,
    headers: {
      route: route,
      to: to,
      from: from,
      'call-id': rq.headers['call-id'],
      cseq: { method: 'NOTIFY', seq: cseq++ },
      contact: contact,
      event: rq.headers.event || 'presence',
      'subscription-state': 'active;expires=60',
      'content-type': 'application/pidf+xml',
      'max-forwards': 70
    },
    content: body
  }, function (rs) {
    // the NOTIFY's response, as it came back through the edge
    fs.appendFileSync(record + '.notify', `${rs.status} ${rs.headers.cseq.method}\n`);
  });
}

sip.start({
  address: address,
  port: port,
  hostname: address,
  publicAddress: address,
  udp: false,
  tcp: true,
  logger: {
    recv: (m, remote) => log('received', m, remote),
    send: (m, target) => log('sent', m, target),
    error: e => process.stderr.write(`node-uas: ${e && e.stack || e}\n`)
  }
}, function (rq) {
  if (rq.method === 'ACK' || rq.method === 'BENOTIFY')
    return;
  const rs = sip.makeResponse(rq, 200, 'OK');
  rs.headers.to.params = Object.assign({}, rs.headers.to.params, { tag: tag });
  if (rq.method === 'SUBSCRIBE' || rq.method === 'INVITE') {
    rs.headers.contact = contact;
    rs.headers['record-route'] = rq.headers['record-route'];
  }
  if (rq.method === 'SUBSCRIBE')
    rs.headers.expires = 60;
  sip.send(rs);
  if (rq.method === 'SUBSCRIBE' && rq.headers.contact && rq.headers.contact.length)
    setTimeout(() => notify(rq), 100);
});

if (args.ready)
  fs.writeFileSync(args.ready, `${address}:${port}\n`);
process.stdout.write(`LISTENING ${address}:${port}\n`);
const stop = () => { try { sip.stop(); } catch (e) { /* closing */ } process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setTimeout(stop, timeout * 1000);
