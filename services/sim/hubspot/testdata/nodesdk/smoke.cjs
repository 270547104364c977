// Drives the simulator with HubSpot's official Node client
// (@hubspot/api-client, pinned to 13.5.0 by package.json/package-lock.json
// here). Usage: node smoke.cjs <baseURL> <token> (NODE_PATH must point at a
// node_modules holding @hubspot/api-client). Run by TestOfficialNodeClient.
'use strict';
const assert = require('node:assert/strict');
const hubspot = require('@hubspot/api-client');

const [basePath, accessToken] = process.argv.slice(2);
const client = new hubspot.Client({ accessToken, basePath, numberOfApiCallRetries: 0 });

async function main() {
  const contacts = client.crm.contacts;
  // create / get / update / archive
  const created = await contacts.basicApi.create({ properties: { email: 'sdk@example.com', firstname: 'Sdk' }, associations: [] });
  assert.match(created.id, /^\d+$/);
  assert.equal(created.properties.email, 'sdk@example.com');
  assert.ok(created.createdAt instanceof Date);
  const got = await contacts.basicApi.getById('sdk@example.com', ['email', 'firstname'], undefined, undefined, false, 'email');
  assert.equal(got.id, created.id);
  const updated = await contacts.basicApi.update(created.id, { properties: { lastname: 'Client' } });
  assert.equal(updated.properties.lastname, 'Client');
  await assert.rejects(contacts.basicApi.create({ properties: { email: 'sdk@example.com' }, associations: [] }),
    (e) => e.code === 409 && /Existing ID: \d+/.test(e.body.message));
  await assert.rejects(contacts.basicApi.create({ properties: { nope: 'x' }, associations: [] }),
    (e) => e.code === 400 && e.body.category === 'VALIDATION_ERROR');

  // batch
  const batch = await contacts.batchApi.create({ inputs: [1, 2, 3].map((i) => ({ properties: { email: `b${i}@example.com` }, associations: [] })) });
  assert.equal(batch.status, 'COMPLETE');
  assert.equal(batch.results.length, 3);
  const read = await contacts.batchApi.read({ inputs: [{ id: batch.results[0].id }, { id: '999999' }], properties: ['email'], propertiesWithHistory: [] });
  assert.equal(read.results.length, 1);
  assert.equal(read.numErrors, 1);
  await contacts.batchApi.update({ inputs: batch.results.map((r) => ({ id: r.id, properties: { lifecyclestage: 'lead' } })) });
  const ups = await contacts.batchApi.upsert({ inputs: [{ id: 'b1@example.com', idProperty: 'email', properties: { firstname: 'B1' } }, { id: 'b9@example.com', idProperty: 'email', properties: { firstname: 'B9' } }] });
  assert.deepEqual(ups.results.map((r) => r._new ?? r['new']).sort(), [false, true]);
  await contacts.batchApi.archive({ inputs: [{ id: batch.results[2].id }] });

  // paging (basic list and the getAll helper)
  const page = await contacts.basicApi.getPage(2, undefined, ['email']);
  assert.equal(page.results.length, 2);
  assert.ok(page.paging.next.after);
  const all = await contacts.getAll(undefined, undefined, ['email']);
  assert.equal(all.length, 4);

  // search with paging
  let after; const seen = [];
  do {
    const res = await contacts.searchApi.doSearch({
      filterGroups: [{ filters: [{ propertyName: 'email', operator: 'CONTAINS_TOKEN', value: '*@example.com' }] }],
      sorts: ['email'], properties: ['email'], limit: 3, after: after ?? '0',
    });
    assert.equal(res.total, 4);
    seen.push(...res.results.map((r) => r.properties.email));
    after = res.paging?.next?.after;
  } while (after);
  assert.equal(seen.length, 4);

  // associations v4 and labels
  const company = await client.crm.companies.basicApi.create({ properties: { name: 'SDK Inc' }, associations: [] });
  const def = await client.crm.associations.v4.basicApi.createDefault('contacts', created.id, 'companies', company.id);
  assert.equal(def.status, 'COMPLETE');
  const lab = await client.crm.associations.v4.basicApi.create('contacts', created.id, 'companies', company.id,
    [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 1 }]);
  assert.deepEqual(lab.labels, ['Primary']);
  const assocPage = await client.crm.associations.v4.basicApi.getPage('contacts', created.id, 'companies');
  assert.equal(String(assocPage.results[0].toObjectId), company.id);
  assert.equal(assocPage.results[0].associationTypes.length, 2);
  const labels = await client.crm.associations.v4.schema.definitionsApi.getAll('invoices', 'contacts');
  assert.equal(labels.results[0].typeId, 177);
  const withAssoc = await contacts.basicApi.getById(created.id, ['email'], undefined, ['companies']);
  assert.equal(withAssoc.associations.companies.results.length, 2);
  await client.crm.associations.v4.basicApi.archive('contacts', created.id, 'companies', company.id);

  // properties
  const props = await client.crm.properties.coreApi.getAll('contacts');
  assert.ok(props.results.some((p) => p.name === 'email' && p.hasUniqueValue));
  const prop = await client.crm.properties.coreApi.create('contacts', {
    name: 'qbo_customer_id', label: 'QBO Customer ID', type: 'string', fieldType: 'text', groupName: 'contactinformation', hasUniqueValue: true,
  });
  assert.equal(prop.name, 'qbo_customer_id');

  // products and line items
  const product = await client.crm.products.basicApi.create({ properties: { name: 'Widget', price: '19.99', hs_sku: 'WID-001' }, associations: [] });
  const li = await client.crm.lineItems.basicApi.create({ properties: { hs_product_id: product.id, quantity: '2' }, associations: [] });
  const liRead = await client.crm.lineItems.basicApi.getById(li.id, ['amount', 'hs_sku']);
  assert.equal(liRead.properties.amount, '39.98');

  await contacts.basicApi.archive(created.id);
  await assert.rejects(contacts.basicApi.getById(created.id), (e) => e.code === 404);
  console.log('OK');
}

main().catch((e) => {
  console.error(e && e.body ? JSON.stringify(e.body) : e);
  process.exit(1);
});
