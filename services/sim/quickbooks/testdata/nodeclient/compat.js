// Drives the published node-quickbooks client against the simulator.
// Usage: SIM_URL=http://127.0.0.1:PORT REALM_ID=... node compat.js
// Exits non-zero with a message on the first unexpected answer.
'use strict';
const QuickBooks = require('node-quickbooks');
const { promisify } = require('util');

const base = process.env.SIM_URL;
const realm = process.env.REALM_ID;
QuickBooks.V3_ENDPOINT_BASE_URL = base + '/v3/company/';
QuickBooks.TOKEN_URL = base + '/oauth2/v1/tokens/bearer';
QuickBooks.REVOKE_URL = base + '/oauth2/v1/tokens/revoke';

const qbo = new QuickBooks('sim-client', 'sim-secret', 'not-yet', false, realm, true, false, 75, '2.0', 'sim-refresh');
const call = (name, ...args) => promisify(qbo[name]).bind(qbo)(...args);
function check(cond, msg, detail) {
  if (!cond) {
    console.error('FAIL: ' + msg + (detail === undefined ? '' : ' ' + JSON.stringify(detail)));
    process.exit(1);
  }
}

async function main() {
  // Token refresh with Basic auth and a form body.
  const tok = await call('refreshAccessToken');
  check(tok.expires_in === 3600 && qbo.token && qbo.refreshToken === 'sim-refresh', 'refresh', tok);

  // Create, read, sparse update with SyncToken.
  const c = await call('createCustomer', { DisplayName: "Node O'Client", PrimaryEmailAddr: { Address: 'node@example.com' } });
  check(c.Id && c.SyncToken === '0', 'createCustomer', c);
  const r = await call('getCustomer', c.Id);
  check(r.DisplayName === "Node O'Client", 'getCustomer', r);
  const u = await call('updateCustomer', { Id: c.Id, SyncToken: r.SyncToken, Notes: 'from node' });
  check(u.SyncToken === '1' && u.Notes === 'from node' && u.PrimaryEmailAddr, 'updateCustomer (sparse)', u);

  // A stale SyncToken comes back as an error carrying the QBO Fault.
  let stale = null;
  try { await call('updateCustomer', { Id: c.Id, SyncToken: '0', Notes: 'stale' }); } catch (e) { stale = e; }
  const fault = stale && (stale.Fault || (stale.response && stale.response.data && stale.response.data.Fault));
  check(fault && fault.Error[0].code === '5010', 'stale update fault', stale && stale.response ? stale.response.data : stale);

  // Duplicate name.
  let dup = null;
  try { await call('createCustomer', { DisplayName: "node o'client" }); } catch (e) { dup = e; }
  const dupFault = dup && dup.response && dup.response.data && dup.response.data.Fault;
  check(dupFault && dupFault.Error[0].code === '6240', 'duplicate name fault', dup && dup.response ? dup.response.data : dup);

  // Query through the criteria builder (quotes, LIKE with %), count, fetchAll paging.
  const found = await call('findCustomers', [{ field: 'DisplayName', value: "Node O'%", operator: 'LIKE' }]);
  check(found.QueryResponse.Customer && found.QueryResponse.Customer.length === 1, 'findCustomers LIKE', found);
  const byName = await call('findCustomers', { DisplayName: "Node O'Client" });
  check(byName.QueryResponse.Customer && byName.QueryResponse.Customer[0].Id === c.Id, 'findCustomers =', byName);
  const count = await call('findCustomers', { count: true });
  check(count.QueryResponse.totalCount >= 1, 'count(*)', count);
  const all = await call('findCustomers', { fetchAll: true, limit: 5 });
  check(all.QueryResponse.Customer.length === count.QueryResponse.totalCount, 'fetchAll paging', all.QueryResponse.maxResults);

  // Invoice and payment.
  const items = await call('findItems', { Name: 'Services' });
  const item = items.QueryResponse.Item[0];
  const inv = await call('createInvoice', {
    CustomerRef: { value: c.Id },
    Line: [{ DetailType: 'SalesItemLineDetail', Amount: 250, SalesItemLineDetail: { ItemRef: { value: item.Id }, Qty: 2, UnitPrice: 125 } }],
  });
  check(inv.TotalAmt === 250 && inv.Balance === 250 && inv.Line.some(l => l.DetailType === 'SubTotalLineDetail'), 'createInvoice', inv);
  const pay = await call('createPayment', { CustomerRef: { value: c.Id }, TotalAmt: 100, Line: [{ Amount: 100, LinkedTxn: [{ TxnId: inv.Id, TxnType: 'Invoice' }] }] });
  check(pay.Id && pay.UnappliedAmt === 0, 'createPayment', pay);
  const inv2 = await call('getInvoice', inv.Id);
  check(inv2.Balance === 150 && inv2.LinkedTxn.length === 1, 'invoice after payment', inv2);

  // Batch.
  const batch = await call('batch', [
    { bId: 'b1', operation: 'create', Customer: { DisplayName: 'Batch From Node' } },
    { bId: 'b2', operation: 'update', Customer: { Id: c.Id, SyncToken: '0', sparse: true, Notes: 'x' } },
    { bId: 'b3', Query: "select * from Customer where DisplayName = 'Batch From Node'" },
  ]);
  const byBid = Object.fromEntries(batch.BatchItemResponse.map(x => [x.bId, x]));
  check(byBid.b1.Customer && byBid.b2.Fault && byBid.b3.QueryResponse.Customer.length === 1, 'batch', batch);

  // CDC.
  const since = new Date(Date.now() - 3600 * 1000);
  const cdc = await call('changeDataCapture', ['Customer', 'Invoice'], since);
  const qr = cdc.CDCResponse[0].QueryResponse;
  check(qr.length === 2 && qr[0].Customer.length >= 2 && qr[1].Invoice.length === 1, 'changeDataCapture', cdc);

  // requestid idempotency through the client's requestId field.
  const a = await call('createCustomer', { DisplayName: 'Idempotent Node', requestId: 'node-req-1' });
  const b = await call('createCustomer', { DisplayName: 'Idempotent Node', requestId: 'node-req-1' });
  check(a.Id === b.Id, 'requestid replay', [a, b]);

  // Revoke (form body) ends the connection.
  const saved = qbo.token;
  await call('revokeAccess', true);
  qbo.token = saved; // the client forgets its tokens; reuse the old access token on purpose
  qbo.realmId = realm;
  let after = null;
  try { await call('getCustomer', c.Id); } catch (e) { after = e; }
  check(after && after.response && after.response.status === 401, 'call after revoke', after && after.response && after.response.status);
  console.log('OK');
}

main().catch(e => {
  console.error('FAIL: unexpected error', e && e.response ? JSON.stringify(e.response.data) : e);
  process.exit(1);
});
