// The webhook receiver of bench/scenario_webhooks.sh: answers every POST
// with 204 at once (no signature check: the cost measured is chatd's).
// usage: node bench/webhook_sink.mjs PORT
import http from 'node:http';

const port = Number(process.argv[2]);
http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(204).end());
}).listen(port, '127.0.0.1');
