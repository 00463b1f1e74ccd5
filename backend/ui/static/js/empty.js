// The empty state: how to send data to this server.

import { h } from './dom.js';
import { uiConfig } from './api.js';

// emptyState says that the store holds nothing yet and names the OTLP
// endpoints to send to.
export async function emptyState(what) {
  let grpc = ['localhost:4317'];
  let http = ['localhost:4318'];
  try {
    const c = await uiConfig();
    if (c.otlp?.grpc?.length) grpc = c.otlp.grpc;
    if (c.otlp?.http?.length) http = c.otlp.http;
  } catch {
    // the defaults of loupe serve
  }
  const httpURL = 'http://' + http[0];
  return h('section', { class: 'empty', id: 'empty-state' },
    h('h2', { text: `No ${what} yet` }),
    h('p', {}, 'Loupe shows what OpenTelemetry SDKs and Collectors send it over OTLP. This server receives on:'),
    h('ul', {},
      h('li', {}, 'OTLP/HTTP (protobuf or JSON): ', h('code', { text: http.map((a) => 'http://' + a).join(', ') })),
      h('li', {}, 'OTLP/gRPC: ', h('code', { text: grpc.join(', ') }))),
    h('p', {}, 'For example, from a clone of the repository:'),
    h('pre', {}, h('code', { text: `OTEL_EXPORTER_OTLP_ENDPOINT=${httpURL} go run ./examples/quickstart` })),
    h('p', {}, 'Any SDK works the same way: set ', h('code', { text: 'OTEL_EXPORTER_OTLP_ENDPOINT' }),
      ' (and ', h('code', { text: 'OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>' }),
      ' when the server runs with --token); this page shows the data as soon as it arrives.'));
}
