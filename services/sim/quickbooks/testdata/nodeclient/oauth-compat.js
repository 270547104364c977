// Drives Intuit's official OAuth client (intuit-oauth) through the
// simulator's consent page, code exchange, API call, refresh and revoke.
// Usage: SIM_URL=http://127.0.0.1:PORT REALM_ID=... node oauth-compat.js
'use strict';
const OAuthClient = require('intuit-oauth');

const base = process.env.SIM_URL;
const realm = process.env.REALM_ID;
const redirectUri = 'http://localhost:3000/callback';
function check(cond, msg, detail) {
  if (!cond) {
    console.error('FAIL: ' + msg + (detail === undefined ? '' : ' ' + JSON.stringify(detail)));
    process.exit(1);
  }
}

async function main() {
  const oc = new OAuthClient({ clientId: 'sim-client', clientSecret: 'sim-secret', environment: 'sandbox', redirectUri });
  oc.setAuthorizeURLs({
    authorizeEndpoint: base + '/connect/oauth2',
    tokenEndpoint: base + '/oauth2/v1/tokens/bearer',
    revokeEndpoint: base + '/oauth2/v1/tokens/revoke',
    userInfoEndpoint: base + '/v1/openid_connect/userinfo',
  });
  const uri = oc.authorizeUri({ scope: [OAuthClient.scopes.Accounting], state: 'state-42' });
  const page = await (await fetch(uri)).text();
  check(page.includes('sim-client') && page.includes(realm), 'consent page shows app and realm', page.slice(0, 300));

  // Press "Connect" like the browser would.
  const form = new URLSearchParams({ client_id: 'sim-client', redirect_uri: redirectUri, state: 'state-42', realmId: realm, action: 'connect' });
  const res = await fetch(base + '/connect/oauth2', { method: 'POST', body: form, redirect: 'manual' });
  const callback = res.headers.get('location');
  check(res.status === 302 && callback.startsWith(redirectUri), 'redirect to the app', [res.status, callback]);

  const created = await oc.createToken(callback);
  const tok = oc.getToken();
  check(created.json.access_token && tok.realmId === realm && tok.state === 'state-42' && tok.expires_in === 3600, 'createToken', created.json);

  const ci = await oc.makeApiCall({ url: base + '/v3/company/' + realm + '/companyinfo/' + realm + '?minorversion=75' });
  check(ci.json.CompanyInfo && ci.json.CompanyInfo.Country === 'US', 'makeApiCall', ci.json);

  const refreshed = await oc.refresh();
  check(refreshed.json.access_token && refreshed.json.access_token !== created.json.access_token, 'refresh', refreshed.json);

  const access = oc.getToken().access_token;
  await oc.revoke({ refresh_token: oc.getToken().refresh_token });
  const after = await fetch(base + '/v3/company/' + realm + '/preferences', { headers: { Authorization: 'Bearer ' + access, Accept: 'application/json' } });
  check(after.status === 401, 'API call after revoke', after.status);
  console.log('OK');
}

main().catch(e => {
  console.error('FAIL: unexpected error', e && e.response ? JSON.stringify(e.response.data || e.response) : e);
  process.exit(1);
});
