#!/usr/bin/env python3
"""Signature test vectors for every provider, computed independently of the Rust code
(Python's stdlib hmac), from the schemes in ../shared/reference/webhook-signatures.md.

Run: python3 generate_vectors.py > vectors.json   (deterministic)
"""
import base64, hashlib, hmac, json

NOW = 1_760_000_000
out = []

def b64(d): return base64.b64encode(d).decode()
def h256(key, msg): return hmac.new(key, msg, hashlib.sha256).digest()

def add(name, provider, secret, body, headers, expect, url=None, now=None, previous=None):
    v = {"name": name, "provider": provider, "secret": secret, "body_b64": b64(body), "headers": headers, "expect": expect}
    if url is not None: v["url"] = url
    if now is not None: v["now"] = now
    if previous is not None: v["previous_secret"] = previous
    out.append(v)

uni = '{"name":"Café Crème — 東京 🌮","price":"4.50"}'.encode()
big = ('{"items":[' + ",".join('{"id":%d,"name":"item %d"}' % (i, i) for i in range(2400)) + "]}").encode()
assert len(big) > 50_000
bodies = {"ascii": b'{"id":1,"title":"T-Shirt"}', "unicode": uni, "50kb": big}

# Square: HMAC-SHA256(url + body), base64
url = "https://example.com/webhooks/square"
for kind, body in bodies.items():
    sig = b64(h256(b"sq-key", url.encode() + body))
    add(f"square valid {kind}", "square", "sq-key", body, {"X-Square-HmacSha256-Signature": sig}, "valid", url=url)
body = bodies["ascii"]
sig = b64(h256(b"sq-key", url.encode() + body))
add("square url mismatch (trailing slash)", "square", "sq-key", body, {"x-square-hmacsha256-signature": sig}, "invalid", url=url + "/")
add("square url mismatch (http)", "square", "sq-key", body, {"x-square-hmacsha256-signature": sig}, "invalid", url=url.replace("https", "http"))
add("square tampered", "square", "sq-key", body + b" ", {"x-square-hmacsha256-signature": sig}, "invalid", url=url)
add("square wrong secret", "square", "other", body, {"x-square-hmacsha256-signature": sig}, "invalid", url=url)
add("square rotation previous secret", "square", "new-key", body, {"x-square-hmacsha256-signature": sig}, "valid", url=url, previous="sq-key")
add("square missing header", "square", "sq-key", body, {}, "invalid", url=url)
add("square legacy sha1", "square", "sq-key", body, {"X-Square-Signature": b64(hmac.new(b"sq-key", url.encode() + body, hashlib.sha1).digest())}, "valid", url=url)

# Shopify: HMAC-SHA256(body), base64
for kind, body in bodies.items():
    add(f"shopify valid {kind}", "shopify", "shpss_secret", body, {"X-Shopify-Hmac-Sha256": b64(h256(b"shpss_secret", body))}, "valid")
body = bodies["ascii"]
sig = b64(h256(b"shpss_secret", body))
add("shopify lower-case header", "shopify", "shpss_secret", body, {"x-shopify-hmac-sha256": sig}, "valid")
add("shopify tampered", "shopify", "shpss_secret", body.replace(b"1", b"2"), {"X-Shopify-Hmac-Sha256": sig}, "invalid")
add("shopify wrong secret", "shopify", "nope", body, {"X-Shopify-Hmac-Sha256": sig}, "invalid")
add("shopify hex instead of base64", "shopify", "shpss_secret", body, {"X-Shopify-Hmac-Sha256": h256(b"shpss_secret", body).hex()}, "invalid")
add("shopify garbage header", "shopify", "shpss_secret", body, {"X-Shopify-Hmac-Sha256": "!!!"}, "invalid")
add("shopify rotation previous secret", "shopify", "new", body, {"X-Shopify-Hmac-Sha256": sig}, "valid", previous="shpss_secret")

# Clover: X-Clover-Auth equals the auth code
body = b'{"appId":"APP1","merchants":{"M1":[{"objectId":"I:ITEM1","type":"UPDATE","ts":1537970958000}]}}'
add("clover valid", "clover", "auth-code-123", body, {"X-Clover-Auth": "auth-code-123"}, "valid")
add("clover wrong code", "clover", "auth-code-123", body, {"X-Clover-Auth": "auth-code-124"}, "invalid")
add("clover prefix of code", "clover", "auth-code-123", body, {"X-Clover-Auth": "auth-code"}, "invalid")
add("clover missing header", "clover", "auth-code-123", body, {}, "invalid")
add("clover verification request is unsigned", "clover", "auth-code-123", b'{"verificationCode":"ce7643c1-83ea-4218-abe6-da876c9c7a0a"}', {}, "invalid")

# Toast: HMAC-SHA256(body + envelope timestamp), base64
ts = "2019-09-16T21:01:53.685Z"
body = ('{"timestamp":"%s","eventCategory":"menus","eventType":"menus_updated","guid":"g-1","details":{"restaurantGuid":"r-1"}}' % ts).encode()
sig = b64(h256(b"toast-key", body + ts.encode()))
add("toast valid", "toast", "toast-key", body, {"Toast-Signature": sig}, "valid")
add("toast body only is not the scheme", "toast", "toast-key", body, {"Toast-Signature": b64(h256(b"toast-key", body))}, "invalid")
add("toast tampered", "toast", "toast-key", body.replace(b"r-1", b"r-2"), {"Toast-Signature": sig}, "invalid")
add("toast wrong secret", "toast", "x", body, {"Toast-Signature": sig}, "invalid")
add("toast body without timestamp", "toast", "toast-key", b'{"guid":"g"}', {"Toast-Signature": sig}, "invalid")
ubody = ('{"timestamp":"%s","eventCategory":"stock","eventType":"in_stock","guid":"g-2","details":{"itemGuid":"Crème"}}' % ts).encode()
add("toast valid unicode", "toast", "toast-key", ubody, {"toast-signature": b64(h256(b"toast-key", ubody + ts.encode()))}, "valid")

# Zettle: hex HMAC-SHA256(timestamp + "." + payload string)
payload = json.dumps({"organizationUuid": "o-1", "productUuid": "p-1", "name": "Kaffe ☕ \"special\""}, ensure_ascii=False)
zts = "2024-01-17T09:02:27.680Z"
body = json.dumps({"organizationUuid": "o-1", "messageUuid": "m-1", "eventName": "ProductCreated", "messageId": "mid-1", "payload": payload, "timestamp": zts}).encode()
sig = hmac.new(b"zettle-signing-key", (zts + "." + payload).encode(), hashlib.sha256).hexdigest()
add("zettle valid payload string", "zettle", "zettle-signing-key", body, {"X-iZettle-Signature": sig}, "valid")
add("zettle valid upper-case hex", "zettle", "zettle-signing-key", body, {"x-izettle-signature": sig.upper()}, "valid")
add("zettle signed over raw escaped text is not the scheme", "zettle", "zettle-signing-key", body,
    {"X-iZettle-Signature": hmac.new(b"zettle-signing-key", (zts + "." + json.dumps(payload)).encode(), hashlib.sha256).hexdigest()}, "invalid")
add("zettle wrong secret", "zettle", "other", body, {"X-iZettle-Signature": sig}, "invalid")
add("zettle tampered", "zettle", "zettle-signing-key", body.replace(b"p-1", b"p-9"), {"X-iZettle-Signature": sig}, "invalid")
add("zettle base64 signature", "zettle", "zettle-signing-key", body, {"X-iZettle-Signature": b64(bytes.fromhex(sig))}, "invalid")

# WooCommerce: HMAC-SHA256(body), base64; secret through wp_specialchars_decode
body = b'{"id":794,"name":"Premium Quality","permalink":"https:\\/\\/example.com\\/product\\/premium-quality-19\\/","price":"24.54"}'
add("woocommerce valid escaped slashes", "woocommerce", "wc-secret", body, {"X-WC-Webhook-Signature": b64(h256(b"wc-secret", body))}, "valid")
add("woocommerce re-encoded body fails", "woocommerce", "wc-secret", body.replace(b"\\/", b"/"), {"X-WC-Webhook-Signature": b64(h256(b"wc-secret", body))}, "invalid")
add("woocommerce entity in stored secret", "woocommerce", "a&amp;b", body, {"X-WC-Webhook-Signature": b64(h256(b"a&b", body))}, "valid")
add("woocommerce wrong secret", "woocommerce", "nope", body, {"X-WC-Webhook-Signature": b64(h256(b"wc-secret", body))}, "invalid")
add("woocommerce unsigned ping", "woocommerce", "wc-secret", b"webhook_id=15", {}, "invalid")

# Lightspeed: X-Signature: signature=<hex>, algorithm=HMAC-SHA256 over the raw (form) body
body = b"payload=%7B%22id%22%3A%22p-1%22%2C%22name%22%3A%22Mug%22%7D&environment=prod&domain_prefix=shop&type=product.update"
sig = h256(b"ls-client-secret", body).hex()
add("lightspeed valid", "lightspeed", "ls-client-secret", body, {"X-Signature": f"signature={sig}, algorithm=HMAC-SHA256"}, "valid")
add("lightspeed valid reordered parts", "lightspeed", "ls-client-secret", body, {"x-signature": f"algorithm=HMAC-SHA256,signature={sig}"}, "valid")
add("lightspeed bare hex digest", "lightspeed", "ls-client-secret", body, {"X-Signature": sig}, "valid")
add("lightspeed wrong algorithm", "lightspeed", "ls-client-secret", body, {"X-Signature": f"signature={sig}, algorithm=HMAC-SHA1"}, "invalid")
add("lightspeed tampered", "lightspeed", "ls-client-secret", body + b"&x=1", {"X-Signature": f"signature={sig}, algorithm=HMAC-SHA256"}, "invalid")
add("lightspeed wrong secret", "lightspeed", "nope", body, {"X-Signature": f"signature={sig}, algorithm=HMAC-SHA256"}, "invalid")

# Standard Webhooks and BigCommerce
def std(secret_key, msg_id, ts, body):
    return "v1," + b64(h256(secret_key, f"{msg_id}.{ts}.".encode() + body))
sw_secret_b64 = b64(b"standard-webhooks-secret-24b")
sw_key = base64.b64decode(sw_secret_b64)
body = b'{"type":"product.updated","data":{"id":"p1"}}'
for label, secret in (("whsec_ prefix", "whsec_" + sw_secret_b64), ("bare base64", sw_secret_b64)):
    add(f"standard-webhooks valid {label}", "standard-webhooks", secret, body,
        {"webhook-id": "msg_1", "webhook-timestamp": str(NOW), "webhook-signature": std(sw_key, "msg_1", NOW, body)}, "valid", now=NOW)
h = {"webhook-id": "msg_1", "webhook-timestamp": str(NOW), "webhook-signature": std(sw_key, "msg_1", NOW, body)}
add("standard-webhooks expired", "standard-webhooks", "whsec_" + sw_secret_b64, body, h, "invalid", now=NOW + 301)
add("standard-webhooks inside tolerance", "standard-webhooks", "whsec_" + sw_secret_b64, body, h, "valid", now=NOW + 299)
add("standard-webhooks from the future", "standard-webhooks", "whsec_" + sw_secret_b64, body, h, "invalid", now=NOW - 301)
add("standard-webhooks multiple signatures", "standard-webhooks", "whsec_" + sw_secret_b64, body,
    dict(h, **{"webhook-signature": "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,xx " + h["webhook-signature"]}), "valid", now=NOW)
add("standard-webhooks svix headers", "standard-webhooks", "whsec_" + sw_secret_b64, body,
    {"svix-id": "msg_1", "svix-timestamp": str(NOW), "svix-signature": h["webhook-signature"]}, "valid", now=NOW)
add("standard-webhooks wrong id", "standard-webhooks", "whsec_" + sw_secret_b64, body, dict(h, **{"webhook-id": "msg_2"}), "invalid", now=NOW)
add("standard-webhooks raw secret as key is wrong", "standard-webhooks", "whsec_" + sw_secret_b64, body,
    dict(h, **{"webhook-signature": std(("whsec_" + sw_secret_b64).encode(), "msg_1", NOW, body)}), "invalid", now=NOW)
bc_secret = "bc-client-secret-abc123"
body = b'{"scope":"store/product/updated","store_id":"1025646","data":{"type":"product","id":42},"hash":"abc","created_at":1760000000,"producer":"stores/abc"}'
bh = {"webhook-id": "bc-1", "webhook-timestamp": str(NOW), "webhook-signature": std(bc_secret.encode(), "bc-1", NOW, body)}
add("bigcommerce valid (client secret bytes are the key)", "bigcommerce", bc_secret, body, bh, "valid", now=NOW)
add("bigcommerce expired", "bigcommerce", bc_secret, body, bh, "invalid", now=NOW + 600)
add("bigcommerce tampered", "bigcommerce", bc_secret, body.replace(b"42", b"43"), bh, "invalid", now=NOW)
add("bigcommerce wrong secret", "bigcommerce", "other", body, bh, "invalid", now=NOW)

# Stripe: Stripe-Signature t=..,v1=hex(HMAC(t.body)) with the whsec_ string as key
body = b'{\n  "id": "evt_test_webhook",\n  "object": "event"\n}'
def stripe_sig(secret, t, body): return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
s = stripe_sig("whsec_test_secret", NOW, body)
add("stripe valid", "stripe", "whsec_test_secret", body, {"Stripe-Signature": f"t={NOW},v1={s}"}, "valid", now=NOW)
add("stripe valid among several v1", "stripe", "whsec_test_secret", body, {"Stripe-Signature": f"t={NOW},v1=bad_signature,v1={s},v0=abc"}, "valid", now=NOW)
add("stripe expired", "stripe", "whsec_test_secret", body, {"Stripe-Signature": f"t={NOW},v1={s}"}, "invalid", now=NOW + 301)
add("stripe only v0", "stripe", "whsec_test_secret", body, {"Stripe-Signature": f"t={NOW},v0={s}"}, "invalid", now=NOW)
add("stripe malformed header", "stripe", "whsec_test_secret", body, {"Stripe-Signature": "i'm not even a real signature header"}, "invalid", now=NOW)
add("stripe wrong secret", "stripe", "whsec_other", body, {"Stripe-Signature": f"t={NOW},v1={s}"}, "invalid", now=NOW)
add("stripe rotation previous secret", "stripe", "whsec_new", body, {"Stripe-Signature": f"t={NOW},v1={s}"}, "valid", now=NOW, previous="whsec_test_secret")

print(json.dumps(out, indent=1, ensure_ascii=False))
