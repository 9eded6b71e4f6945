// What a test needs in place before the part it drives in the browser, made through the API
// (gRPC-web from a signed-in page): alice's rules, dave's grants.
import { expect } from './fixtures.js';
import {
  createMailChannelRequest, createRuleRequest, grpcWebFromPage, requestRoleRequest, stringField,
} from './grpc-web.js';
import { sidOf } from './directory.js';
import { Shell } from './shell-page.js';

export const APP = { 'x-jitroles-csrf': '1' };

/** alice, signed in on `page` (signs her in when `signIn`), makes a rule that allows
 *  dba-oncall; returns its id. */
export async function aliceMakesRule(page, server, rule, { signIn = true } = {}) {
  if (signIn) await new Shell(page, server.url).open('/roles', 'alice');
  const made = await grpcWebFromPage(page, server.url, 'jitroles.v1.AdminService/CreateRule', APP,
    createRuleRequest({ allowSid: sidOf('dba-oncall'), ...rule }));
  expect(made, made.message).toMatchObject({ status: '0' });
  return stringField(made.reply, 1);
}

/** alice, signed in on `page`, makes a mail channel `name` to `recipient`; returns its id. */
export async function aliceMakesMailChannel(page, server, name, recipient) {
  const made = await grpcWebFromPage(page, server.url, 'jitroles.v1.AdminService/CreateChannel', APP,
    createMailChannelRequest(name, recipient));
  expect(made, made.message).toMatchObject({ status: '0' });
  return stringField(made.reply, 1);
}

/** `person`'s page asks for the role `ruleId` through the API; resolves to the gRPC answer. */
export async function requestThroughApi(personPage, server, ruleId, justification = 'OPS-77', startSeconds) {
  return grpcWebFromPage(personPage, server.url, 'jitroles.v1.RoleService/RequestRole', APP,
    requestRoleRequest(ruleId, justification, startSeconds));
}

/** dave, in his own browser, holds the role `ruleId` (requested through the API). */
export async function daveHolds(otherBrowser, server, ruleId, path = '/roles') {
  const dave = await otherBrowser();
  await new Shell(dave, server.url).open(path, 'dave');
  const granted = await requestThroughApi(dave, server, ruleId);
  expect(granted, granted.message).toMatchObject({ status: '0' });
  return dave;
}
