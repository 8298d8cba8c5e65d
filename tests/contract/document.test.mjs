// docs/openapi.yaml as a document: a real OpenAPI 3.1 validator accepts it,
// every route of src/routes.c's table is in it (so a new route fails here
// until it is documented), and its error enum is exactly src/errors.h's codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { top, loadDocument } from './lib.mjs';

const docPath = `${top}/docs/openapi.yaml`;

test('a 3.1 validator accepts docs/openapi.yaml', async () => {
  const api = await SwaggerParser.validate(docPath);
  assert.equal(api.openapi, '3.1.0');
});

// {"/room/*/message", EVHTTP_REQ_GET, ...} -> ["/room/{name}/message", "get"]
function routeTable() {
  const source = readFileSync(`${top}/src/routes.c`, 'utf8');
  const table = source.slice(source.indexOf('routes_table[] = {'), source.indexOf('};'));
  const rows = [...table.matchAll(/\{"([^"]+)", EVHTTP_REQ_([A-Z]+),/g)];
  return rows.map(([, path, method]) => [path.replace('*', '{name}'), method.toLowerCase()]);
}

test('every route of src/routes.c is documented', async () => {
  const doc = await loadDocument();
  const routes = routeTable();
  assert.ok(routes.length >= 30, `read ${routes.length} routes from src/routes.c`);
  const missing = routes.filter(([path, method]) => !doc.paths[path]?.[method]);
  assert.deepEqual(missing, [], 'routes without an operation in docs/openapi.yaml');
});

test('every documented operation is a route of src/routes.c', async () => {
  const doc = await loadDocument();
  const routes = new Set(routeTable().map(([path, method]) => `${method} ${path}`));
  const methods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
  const extra = [];
  for (const [path, item] of Object.entries(doc.paths))
    for (const method of methods) if (item[method] && !routes.has(`${method} ${path}`)) extra.push(`${method} ${path}`);
  assert.deepEqual(extra, []);
});

test('the error enum is every code of src/errors.h', async () => {
  const doc = await loadDocument();
  const header = readFileSync(`${top}/src/errors.h`, 'utf8');
  const codes = [...header.matchAll(/X\(API_E_[A-Z0-9_]+,\s*\d+,\s*"([a-z_]+)"/g)].map((m) => m[1]);
  assert.ok(codes.length >= 40, `read ${codes.length} codes from src/errors.h`);
  // "ok" is the table's "no error" row and never sent (docs/API.md, Errors).
  const sent = codes.filter((code) => code !== 'ok').sort();
  assert.deepEqual([...doc.components.schemas.ErrorCode.enum].sort(), sent);
});
