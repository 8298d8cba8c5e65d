// The contract of docs/openapi.yaml as checks on one real answer: which
// operation a request names, and what is wrong with the answer (its status,
// its declared headers, its body against the schema with Ajv's JSON Schema
// 2020-12, which is OpenAPI 3.1's dialect). Used by proxy.mjs.
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import SwaggerParser from '@apidevtools/swagger-parser';

const methods = ['get', 'put', 'post', 'delete', 'patch'];

export async function loadContract(documentPath) {
  const doc = await SwaggerParser.dereference(documentPath);
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const validators = new Map();
  const validatorOf = (schema) => {
    if (!validators.has(schema)) validators.set(schema, ajv.compile(schema));
    return validators.get(schema);
  };
  const templates = Object.keys(doc.paths).map((path) => ({
    path,
    pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
  }));
  return { doc, validatorOf, templates };
}

// "/room/a/message/?id=1" -> "/room/{name}/message"; null when unknown.
export function matchPath(contract, target) {
  let path = target.split('?')[0];
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  const found = contract.templates.find((t) => t.pattern.test(path));
  return found ? found.path : null;
}

function schemaProblems(contract, schema, value, where) {
  const validate = contract.validatorOf(schema);
  if (validate(value)) return [];
  return validate.errors.map((e) => `${where}${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
}

function errorBodyProblems(contract, answer, code) {
  const schema = contract.doc.components.schemas.Error;
  let body;
  try { body = JSON.parse(answer.body); } catch { return ['the body is not JSON']; }
  const problems = schemaProblems(contract, schema, body, 'body');
  if (body?.error?.code !== code) problems.push(`the code is not ${code}`);
  return problems;
}

// Undocumented methods and paths: the conventions of the document's
// description (405 with Allow, 404 not_found).
function conventionProblems(contract, request, answer, path) {
  if (!path) {
    if (answer.status !== 404) return [`undocumented path answered ${answer.status}`];
    return errorBodyProblems(contract, answer, 'not_found');
  }
  if (answer.status !== 405) return [`undocumented method answered ${answer.status}`];
  const problems = errorBodyProblems(contract, answer, 'method_not_allowed');
  if (!answer.headers.allow) problems.push('405 without Allow');
  return problems;
}

function headerProblems(contract, declared, headers) {
  const problems = [];
  for (const [name, header] of Object.entries(declared ?? {})) {
    const value = headers[name.toLowerCase()];
    if (value === undefined) {
      if (header.required) problems.push(`the header ${name} is missing`);
      continue;
    }
    const text = Array.isArray(value) ? value[0] : value;
    if (header.schema) problems.push(...schemaProblems(contract, header.schema, text, `header ${name}`));
  }
  return problems;
}

// The problems of one answer: [] when it keeps the contract. answer is
// {status, headers (lower-case names), body (text, or undefined for a
// stream), events ([{event, data}] of an event stream)}.
export function answerProblems(contract, request, answer) {
  const path = matchPath(contract, request.url);
  const method = request.method === 'HEAD' ? 'get' : request.method.toLowerCase();
  const operation = path && methods.includes(method) ? contract.doc.paths[path][method] : undefined;
  if (!operation) return conventionProblems(contract, request, answer, path);
  const response = operation.responses[String(answer.status)];
  if (!response) return [`status ${answer.status} is not documented for ${method} ${path}`];
  const problems = headerProblems(contract, response.headers, answer.headers);
  if (request.method === 'HEAD' || answer.status === 101) return problems;
  const hasBody = answer.body !== undefined ? answer.body.length > 0 : true;
  if (!response.content) {
    if (hasBody) problems.push(`status ${answer.status} has a body but documents none`);
    return problems;
  }
  const type = String(answer.headers['content-type'] ?? '').split(';')[0].trim();
  const media = response.content[type];
  if (!media) return [...problems, `content type "${type}" is not documented for ${answer.status}`];
  if (type === 'application/json' && answer.body !== undefined) {
    let body;
    try { body = JSON.parse(answer.body); } catch { return [...problems, 'the body is not JSON']; }
    problems.push(...schemaProblems(contract, media.schema, body, 'body'));
  } else if (type === 'text/event-stream') {
    for (const { event, data } of answer.events) {
      const schema = media['x-sse-events']?.[event];
      if (!schema) { problems.push(`event "${event}" is not documented`); continue; }
      let value;
      try { value = JSON.parse(data); } catch { problems.push(`event "${event}": data is not JSON`); continue; }
      problems.push(...schemaProblems(contract, schema, value, `event ${event}`));
    }
  }
  return problems;
}

// Reads Server-Sent Events from text pieces as they come: feed() returns
// the events completed so far ({event, data} of those with data lines).
export function sseReader() {
  let pending = '';
  return {
    feed(text) {
      pending += text;
      const events = [];
      let end;
      while ((end = pending.indexOf('\n\n')) >= 0) {
        const block = pending.slice(0, end);
        pending = pending.slice(end + 2);
        let event = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length) events.push({ event, data: data.join('\n') });
      }
      return events;
    },
  };
}
