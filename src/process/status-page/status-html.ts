import { PAGE_SCRIPT } from './page-script.js';
import { PAGE_STYLE } from './page-style.js';

/**
 * The status page and its login form: one HTML document each, style and
 * script inline under the response's CSP nonce. The only server-side
 * values put into markup (the node's name, a login message) are escaped.
 */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function statusPageHtml(options: { nodeName: string; nonce: string; logout: boolean }): string {
  const name = escapeHtml(options.nodeName);
  const logout = options.logout ? '<form method="post" action="logout"><button type="submit" id="logout">Log out</button></form>' : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${name} · xmpp-cluster status</title>
<style nonce="${options.nonce}">${PAGE_STYLE}</style>
</head>
<body>
<header>
  <h1>xmpp-cluster · <span id="node">${name}</span></h1>
  <span id="service" class="badge">…</span>
  <span class="spacer"></span>
  <span id="updated" class="muted">connecting…</span>
  ${logout}
</header>
<main>
  <section id="cluster">
    <h2>Cluster members</h2>
    <p id="cluster-summary" class="summary"></p>
    <table><thead><tr><th>Node</th><th>Endpoint</th><th>Role</th><th>Last contact</th><th class="num">Match</th><th class="num">Lag</th></tr></thead><tbody id="members"></tbody></table>
  </section>
  <section id="bridges">
    <h2>Call bridges</h2>
    <table><thead><tr><th>Call bridge</th><th>Node</th><th>Address</th><th>Peer</th><th>Connected since</th></tr></thead><tbody id="callbridges"></tbody></table>
  </section>
  <section id="rate">
    <h2>Stanzas per second on this node, over the last minutes</h2>
    <p class="summary legend"><span class="routed">━ routed</span><span class="forwarded">╍ forwarded to and from peers</span><span id="rate-now"></span></p>
    <svg id="chart" role="img" aria-label="stanzas per second" viewBox="0 0 720 180"></svg>
  </section>
  <section id="s2s">
    <h2>Federation streams</h2>
    <p id="federation-summary" class="summary"></p>
    <table><thead><tr><th>Node</th><th>Direction</th><th>Local</th><th>Remote</th><th>Peer address</th><th>TLS</th><th>Auth</th><th class="num">Idle</th></tr></thead><tbody id="federation"></tbody></table>
  </section>
</main>
<script nonce="${options.nonce}">${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

export function loginPageHtml(options: { nodeName: string; nonce: string; message?: string; user?: string }): string {
  const name = escapeHtml(options.nodeName);
  const message = options.message ? `<p class="error" id="login-error" role="alert">${escapeHtml(options.message)}</p>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · ${name} · xmpp-cluster status</title>
<style nonce="${options.nonce}">${PAGE_STYLE}</style>
</head>
<body>
<form class="login" method="post" action="login">
  <h1>xmpp-cluster · ${name}</h1>
  ${message}
  <label for="user">User (an MMP admin account)</label>
  <input id="user" name="user" autocomplete="username" required value="${escapeHtml(options.user ?? '')}">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit" id="submit">Log in</button>
</form>
</body>
</html>
`;
}
