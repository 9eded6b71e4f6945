// The test DC, read directly (ldapsearch as Administrator over LDAPS): memberships and SIDs,
// so browser tests check the directory itself, not what jitroles says about it.
import { execFileSync } from 'node:child_process';

function search(base, scope, filter, attribute) {
  const out = execFileSync(
    'ldapsearch',
    ['-LLL', '-o', 'ldif-wrap=no', '-x', '-H', process.env.AD_LDAPS_URL, '-D', process.env.AD_ADMIN_DN,
      '-w', process.env.AD_ADMIN_PASS, '-b', base, '-s', scope, filter, attribute],
    { env: { ...process.env, LDAPTLS_CACERT: process.env.AD_CA_FILE }, encoding: 'utf8' },
  );
  return out
    .split('\n')
    .filter((line) => line.toLowerCase().startsWith(`${attribute.toLowerCase()}:`))
    .map((line) => line.slice(line.indexOf(':') + 1).replace(/^:?\s*/, '').trim());
}

/** DNs of the direct members of a group, found by its account name (a role group in
 *  OU=JIT Roles or any other). */
export function members(group) {
  const [dn] = search(process.env.AD_BASE_DN, 'sub', `(sAMAccountName=${group})`, 'dn');
  if (!dn) throw new Error(`no group ${group} in the test DC`);
  return search(dn, 'base', '(objectClass=*)', 'member');
}

/** The objectSid of an account or group, as S-1-5-21-…. */
export function sidOf(account) {
  const [b64] = search(process.env.AD_BASE_DN, 'sub', `(sAMAccountName=${account})`, 'objectSid');
  const bytes = Buffer.from(b64, 'base64');
  const authority = bytes.readUIntBE(2, 6);
  const subs = [];
  for (let i = 0; i < bytes[1]; i += 1) subs.push(bytes.readUInt32LE(8 + 4 * i));
  return `S-${bytes[0]}-${authority}-${subs.join('-')}`;
}

/** Adds `account` to a role group directly, as someone outside jitroles would. */
export function addMember(group, account) {
  const dn = search(process.env.AD_BASE_DN, 'sub', `(sAMAccountName=${account})`, 'dn')[0];
  if (members(group).some((m) => m.toLowerCase() === dn.toLowerCase())) return;
  execFileSync(
    'ldapmodify',
    ['-x', '-H', process.env.AD_LDAPS_URL, '-D', process.env.AD_ADMIN_DN, '-w', process.env.AD_ADMIN_PASS],
    {
      env: { ...process.env, LDAPTLS_CACERT: process.env.AD_CA_FILE },
      input: `dn: CN=${group},${process.env.AD_ROLE_OU}\nchangetype: modify\nadd: member\nmember: ${dn}\n`,
    },
  );
}

/** Removes `account` from a role group if it is a member (a clean start for a test). */
export function removeMember(group, account) {
  const dn = search(process.env.AD_BASE_DN, 'sub', `(sAMAccountName=${account})`, 'dn')[0];
  if (!dn || !members(group).some((m) => m.toLowerCase() === dn.toLowerCase())) return;
  execFileSync(
    'ldapmodify',
    ['-x', '-H', process.env.AD_LDAPS_URL, '-D', process.env.AD_ADMIN_DN, '-w', process.env.AD_ADMIN_PASS],
    {
      env: { ...process.env, LDAPTLS_CACERT: process.env.AD_CA_FILE },
      input: `dn: CN=${group},${process.env.AD_ROLE_OU}\nchangetype: modify\ndelete: member\nmember: ${dn}\n`,
    },
  );
}

/** Whether `account` is a direct member of a role group, by the DC's own answer. */
export function isMember(group, account) {
  const dn = search(process.env.AD_BASE_DN, 'sub', `(sAMAccountName=${account})`, 'dn')[0];
  return members(group).some((m) => m.toLowerCase() === dn.toLowerCase());
}
