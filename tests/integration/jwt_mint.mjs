// Mints application tokens (JWT) for the token tests with Node's own crypto,
// independently of the library chatd verifies them with.
//
//   node jwt_mint.mjs keys DIR
//     writes DIR/secret (HS256), DIR/rsa.pem + rsa.pub.pem, DIR/ec.pem +
//     ec.pub.pem, DIR/rsa-small.pub.pem (1024 bits) and DIR/jwks.json (the
//     RSA key as kid "rsa-1", the EC key as kid "ec-1")
//   node jwt_mint.mjs sign ALG KEYFILE CLAIMS_JSON [HEADER_JSON]
//     prints a token: ALG is HS256 (KEYFILE's bytes are the secret, less one
//     trailing newline), RS256 or ES256 (KEYFILE a PEM private key), or none
//     (no signature); HEADER_JSON is merged into {"alg", "typ"}. Claims
//     "exp", "nbf" and "iat" given as "+N" or "-N" are now plus N seconds.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

function writeKeys(dir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'secret'), crypto.randomBytes(32).toString('hex') + '\n');
  const pairs = {
    rsa: crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }),
    ec: crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    'rsa-small': crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }),
  };
  for (const [name, { publicKey, privateKey }] of Object.entries(pairs)) {
    fs.writeFileSync(path.join(dir, `${name}.pem`), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    fs.writeFileSync(path.join(dir, `${name}.pub.pem`), publicKey.export({ type: 'spki', format: 'pem' }));
  }
  const jwk = (pair, kid, alg) => ({ ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' });
  const jwks = { keys: [jwk(pairs.rsa, 'rsa-1', 'RS256'), jwk(pairs.ec, 'ec-1', 'ES256')] };
  fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify(jwks, null, 2));
}

function claimsOf(text) {
  const claims = JSON.parse(text);
  const now = Math.floor(Date.now() / 1000);
  for (const k of ['exp', 'nbf', 'iat'])
    if (typeof claims[k] === 'string' && /^[+-]\d+$/.test(claims[k])) claims[k] = now + Number(claims[k]);
  return claims;
}

function sign(alg, keyFile, claimsText, headerText) {
  const header = { alg, typ: 'JWT', ...(headerText ? JSON.parse(headerText) : {}) };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claimsOf(claimsText)))}`;
  let sig = '';
  if (alg === 'HS256') {
    const secret = fs.readFileSync(keyFile).toString('latin1').replace(/\r?\n$/, '');
    sig = crypto.createHmac('sha256', Buffer.from(secret, 'latin1')).update(input).digest('base64url');
  } else if (alg === 'RS256') {
    sig = b64url(crypto.sign('sha256', Buffer.from(input), fs.readFileSync(keyFile)));
  } else if (alg === 'ES256') {
    const key = { key: fs.readFileSync(keyFile), dsaEncoding: 'ieee-p1363' };
    sig = b64url(crypto.sign('sha256', Buffer.from(input), key));
  } else if (alg !== 'none') {
    throw new Error(`unknown alg ${alg}`);
  }
  return `${input}.${sig}`;
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'keys') writeKeys(args[0]);
else if (cmd === 'sign') process.stdout.write(sign(...args));
else {
  console.error('usage: jwt_mint.mjs keys DIR | sign ALG KEYFILE CLAIMS_JSON [HEADER_JSON]');
  process.exit(2);
}
