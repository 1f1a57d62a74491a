// An independent ActivityPub peer for the interop tests, built on Fedify (npm, pinned in package.json).
//
// node fedify_peer.mjs PORT  -> listens on 127.0.0.1:PORT and prints "ready" when it does.
// It serves one Person, `alice`, with an RSA key (WebFinger, actor, inbox). Fedify itself verifies
// the HTTP Signatures of everything POSTed to the inbox; what passed is listed at GET /_received.
// Control endpoints for the test (plain HTTP, loopback only):
//   POST /_follow?target=ID_OR_HANDLE   alice looks the target up (WebFinger or id) and follows it
//   POST /_note?to=ACTOR_ID&text=T      alice sends a Create(Note) addressed to that actor
import http from "node:http";
import {
  Accept,
  Create,
  createFederation,
  Endpoints,
  Follow,
  generateCryptoKeyPair,
  MemoryKvStore,
  Note,
  Person,
} from "@fedify/fedify";

const port = Number(process.argv[2] || 0);
const origin = `http://127.0.0.1:${port}`;
const received = [];
const keys = { rsa: await generateCryptoKeyPair("RSASSA-PKCS1-v1_5") };

// Development settings, like MECHMOOC_INSECURE_HTTP=1: loopback peers over plain http. Fedify
// always looks acct: handles up over https (it has no switch for that), so WebFinger requests to
// loopback hosts are sent over http instead; everything else Fedify does is untouched.
const fetchOverTls = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (url.protocol === "https:" && url.hostname === "127.0.0.1" && url.pathname === "/.well-known/webfinger") {
    url.protocol = "http:";
    return fetchOverTls(input instanceof Request ? new Request(url, input) : url, init);
  }
  return fetchOverTls(input, init);
};
const federation = createFederation({ kv: new MemoryKvStore(), allowPrivateAddress: true });

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== "alice") return null;
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Alice of Fedify",
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      publicKey: (await ctx.getActorKeyPairs(identifier))[0].cryptographicKey,
    });
  })
  .setKeyPairsDispatcher(async (_ctx, identifier) => (identifier === "alice" ? [keys.rsa] : []));

function remember(kind) {
  return async (ctx, activity) => {
    const json = await activity.toJsonLd({ contextLoader: ctx.contextLoader });
    received.push({ kind, id: activity.id?.href, actor: activity.actorId?.href, json });
    if (kind === "Follow" && activity.objectId?.href === ctx.getActorUri("alice").href) {
      const follower = await activity.getActor();
      await ctx.sendActivity({ identifier: "alice" }, follower, new Accept({
        id: new URL(`${origin}/accepts/${received.length}`),
        actor: ctx.getActorUri("alice"),
        object: activity,
      }));
    }
  };
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Follow, remember("Follow"))
  .on(Accept, remember("Accept"))
  .on(Create, remember("Create"))
  .onError((_ctx, error) => received.push({ kind: "error", error: String(error) }));

async function control(url) {
  const ctx = federation.createContext(new URL(origin), undefined);
  if (url.pathname === "/_follow") {
    const target = await ctx.lookupObject(url.searchParams.get("target"));
    if (!target?.id) return { status: 404, body: { error: "target not found" } };
    await ctx.sendActivity({ identifier: "alice" }, target, new Follow({
      id: new URL(`${origin}/follows/${Date.now()}`),
      actor: ctx.getActorUri("alice"),
      object: target.id,
    }));
    return { status: 200, body: { followed: target.id.href, name: target.name?.toString() ?? null } };
  }
  if (url.pathname === "/_note") {
    const to = await ctx.lookupObject(url.searchParams.get("to"));
    if (!to?.id) return { status: 404, body: { error: "recipient not found" } };
    const noteId = new URL(`${origin}/notes/${Date.now()}`);
    await ctx.sendActivity({ identifier: "alice" }, to, new Create({
      id: new URL(`${noteId.href}/activity`),
      actor: ctx.getActorUri("alice"),
      tos: [to.id],
      object: new Note({
        id: noteId,
        attribution: ctx.getActorUri("alice"),
        tos: [to.id],
        content: url.searchParams.get("text") ?? "",
        replyTarget: url.searchParams.get("inReplyTo") ? new URL(url.searchParams.get("inReplyTo")) : null,
      }),
    }));
    return { status: 200, body: { note: noteId.href } };
  }
  return null;
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, origin);
    if (req.method === "GET" && url.pathname === "/_received") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(received));
      return;
    }
    if (req.method === "POST" && url.pathname.startsWith("/_")) {
      const answer = await control(url);
      if (answer) {
        res.writeHead(answer.status, { "content-type": "application/json" });
        res.end(JSON.stringify(answer.body));
        return;
      }
    }
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = chunks.length ? Buffer.concat(chunks) : undefined;
    const request = new Request(url, {
      method: req.method,
      headers: Object.entries(req.headers).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]])),
      body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
    });
    const response = await federation.fetch(request, { contextData: undefined });
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (error) {
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(String(error?.stack ?? error));
  }
});

server.listen(port, "127.0.0.1", () => console.log("ready"));
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
