// gRPC-web calls made from inside a page, with hand-written protobuf for the few messages the
// tests send (the app itself uses the generated Rust client).

function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}

const field = {
  varint: (no, n) => [...varint((no << 3) | 0), ...varint(n)],
  bytes: (no, bytes) => [...varint((no << 3) | 2), ...varint(bytes.length), ...bytes],
  string: (no, s) => field.bytes(no, [...new TextEncoder().encode(s)]),
  message: (no, parts) => field.bytes(no, parts.flat()),
};

/** CreateRuleRequest for a rule on `group` whose ACL allows the group with `allowSid`;
 *  `approval` ({ approverSid, required, breakGlass, windowSeconds }) makes its requests wait
 *  for that group's approval, `maxLeadSeconds` lets them name a start time,
 *  `approvalChannels` (channel ids) get the approval events. */
export function createRuleRequest({
  name, group, allowSid, defaultSeconds, maxSeconds, allowExtension = true, approval, maxLeadSeconds,
  approvalChannels = [],
}) {
  const duration = (s) => [field.varint(1, s)];
  const groupEntry = (sid) => [field.string(1, sid), field.varint(3, 2 /* group */), field.varint(4, 1 /* allow */)];
  const acl = groupEntry(allowSid);
  const policy = approval && [
    field.message(1, groupEntry(approval.approverSid)),
    field.varint(2, approval.required ?? 1),
    field.message(3, duration(approval.windowSeconds ?? 86_400)),
    field.varint(4, approval.breakGlass ? 1 : 0),
  ];
  const spec = [
    field.string(1, name),
    field.string(2, `Just-in-time ${name}`),
    field.string(3, group),
    field.message(4, acl),
    field.message(5, duration(maxSeconds)),
    field.message(6, duration(defaultSeconds)),
    field.varint(7, allowExtension ? 1 : 0),
    field.varint(9, 2 /* justification optional */),
    field.varint(10, 1 /* enabled */),
    ...(policy ? [field.message(14, policy)] : []),
    ...(maxLeadSeconds ? [field.message(15, duration(maxLeadSeconds))] : []),
    ...approvalChannels.map((id) => field.string(16, id)),
  ];
  return field.message(1, spec);
}

/** CreateChannelRequest for an enabled mail channel `name` to `recipient` through the SMTP
 *  sink on this machine (plain SMTP, port 2525). */
export function createMailChannelRequest(name, recipient) {
  const email = [
    field.string(1, 'localhost'),
    field.varint(2, 2525),
    field.varint(3, 1 /* SMTP_TLS_NONE */),
    field.string(6, 'jitroles <jitroles@example.test>'),
    field.string(7, recipient),
  ];
  const spec = [field.string(1, name), field.message(2, email), field.varint(6, 1 /* enabled */)];
  return field.message(1, spec);
}

/** Calls `method` with the protobuf `message` (array of bytes) as gRPC-web from the page;
 *  resolves to the gRPC status and message, or rejects like fetch. */
export async function grpcWebFromPage(page, url, method, extraHeaders = {}, message = []) {
  return page.evaluate(
    async ({ url, method, extraHeaders, message }) => {
      const body = new Uint8Array(5 + message.length);
      new DataView(body.buffer).setUint32(1, message.length);
      body.set(message, 5);
      const res = await fetch(`${url}/${method}`, {
        method: 'POST',
        credentials: 'include',
        headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', ...extraHeaders },
        body,
      });
      // an error comes as headers only; a success is a message frame, then a trailer frame
      // (flag 0x80)
      let status = res.headers.get('grpc-status');
      let text = res.headers.get('grpc-message') || '';
      let reply = [];
      if (status === null) {
        const answer = new Uint8Array(await res.arrayBuffer());
        for (let at = 0; at + 5 <= answer.length; ) {
          const length = new DataView(answer.buffer).getUint32(at + 1);
          const frame = answer.subarray(at + 5, at + 5 + length);
          if (answer[at] & 0x80) {
            const trailer = new TextDecoder().decode(frame);
            status = /grpc-status:\s*(\d+)/.exec(trailer)?.[1] ?? null;
            text = /grpc-message:\s*(.*)/.exec(trailer)?.[1]?.trim() ?? '';
          } else {
            reply = [...frame];
          }
          at += 5 + length;
        }
      }
      return { status, message: decodeURIComponent(text), reply };
    },
    { url, method, extraHeaders, message },
  );
}

/** The first string field `no` of a protobuf message (e.g. field 1, the id of a Rule). */
export function stringField(bytes, no) {
  let at = 0;
  const read = () => {
    let n = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[at++];
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
      shift += 7;
    }
  };
  while (at < bytes.length) {
    const key = read();
    const [field, wire] = [Math.floor(key / 8), key % 8];
    if (wire === 0) read();
    else if (wire === 2) {
      const length = read();
      if (field === no) return new TextDecoder().decode(Uint8Array.from(bytes.slice(at, at + length)));
      at += length;
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else return undefined;
  }
  return undefined;
}

/** RequestRoleRequest for `ruleId` with a justification. */
export function requestRoleRequest(ruleId, justification, startSeconds) {
  const start = startSeconds ? field.message(5, [field.varint(1, startSeconds)]) : [];
  return [...field.string(1, ruleId), ...field.string(3, justification), ...start];
}
