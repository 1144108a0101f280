import { escapeHtml, htmlPage } from '../core/html.js';
import { SWAGGER_UI_ASSETS_PATH } from './swagger-ui-assets.js';

export const API_DOCS_PATH = '/api/docs';
export const API_DOCS_JSON_PATH = '/api/docs-json';


/**
 * The Swagger UI page under the enforced CSP: both scripts carry this response's nonce (the
 * bundle, then the start-up call, which `'strict-dynamic'` would also let the bundle load), and
 * the stylesheet comes from this origin. Swagger UI styles elements through the DOM (CSSOM),
 * which `style-src` does not restrict, so no inline style allowance is needed. No online
 * validator: its badge would send the document's URL to swagger.io (and break img-src).
 */
export function renderApiDocsPage(nonce: string): string {
  const n = escapeHtml(nonce);
  return htmlPage({
    title: 'Rampart dashboard API',
    nonce,
    head: `<link rel="stylesheet" href="${SWAGGER_UI_ASSETS_PATH}/swagger-ui.css">`,
    body: `<div id="swagger-ui"></div>
<script nonce="${n}" src="${SWAGGER_UI_ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script nonce="${n}">
window.ui = SwaggerUIBundle({ url: ${JSON.stringify(API_DOCS_JSON_PATH)}, dom_id: '#swagger-ui', deepLinking: true, presets: [SwaggerUIBundle.presets.apis], layout: 'BaseLayout', validatorUrl: null });
</script>`,
  });
}
