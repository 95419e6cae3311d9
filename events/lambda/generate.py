#!/usr/bin/env python3
"""Sample Lambda invocation events for `cargo lambda invoke --data-file` and the function
tests. Signed with the demo tenants' secrets (samples/tenants.json). Deterministic.
    python3 events/lambda/generate.py
"""
import base64, hashlib, hmac, json, os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
body = open(os.path.join(ROOT, "samples/webhooks/shopify/products.update.json"), "rb").read()
secret = json.load(open(os.path.join(ROOT, "samples/tenants.json")))["tenants"][0]["providers"]["shopify"]["secret"]
sig = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()

def apigw(path_provider, tenant, headers, body_bytes):
    path = f"/v1/webhooks/{path_provider}/{tenant}"
    return {
        "version": "2.0",
        "routeKey": "POST /v1/webhooks/{provider}/{tenant}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "user-agent": "Shopify-Captain-Hook", **headers},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123", "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.10", "userAgent": "Shopify-Captain-Hook"},
            "requestId": "JKJaXmPLvHcESHA=", "routeKey": "POST /v1/webhooks/{provider}/{tenant}", "stage": "$default",
            "time": "22/Apr/2025:19:30:00 +0000", "timeEpoch": 1745350200000,
        },
        "pathParameters": {"provider": path_provider, "tenant": tenant},
        "body": base64.b64encode(body_bytes).decode(),
        "isBase64Encoded": True,
    }

shopify_headers = {"x-shopify-hmac-sha256": sig, "x-shopify-topic": "products/update", "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "x-shopify-shop-domain": "demo-cafe.myshopify.com"}
events = {
    "apigw-webhook-shopify.json": apigw("shopify", "demo-cafe", shopify_headers, body),
    "apigw-webhook-unknown-tenant.json": apigw("shopify", "nobody", shopify_headers, body),
}

# The message webhook-ingress enqueues for that request, as SQS delivers it to signature-check.
delivery = {
    "delivery_id": "01964f0e-8a20-7000-8000-000000000001", "tenant_id": "demo-cafe", "provider": "shopify",
    "received_at": "2025-04-22T19:30:00Z", "correlation_id": "01964f0e-8a20-7000-8000-000000000001",
    "headers": [[k, v] for k, v in shopify_headers.items()],
    "body": {"kind": "inline", "base64": base64.b64encode(body).decode()},
}
def sqs_record(message_id, body_text, queue):
    return {
        "messageId": message_id, "receiptHandle": "AQEB" + message_id.replace("-", ""), "body": body_text,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1745350200000", "SenderId": "AROAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1745350200100"},
        "messageAttributes": {}, "md5OfBody": hashlib.md5(body_text.encode()).hexdigest(), "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}", "awsRegion": "us-east-1",
    }
events["sqs-inbound.json"] = {"Records": [
    sqs_record("059f36b4-87a3-44ab-83d2-661975830a7d", json.dumps(delivery), "tillbridge-inbound"),
    sqs_record("2e1424d4-f796-459a-8184-9c92662be6da", "this is not a delivery", "tillbridge-inbound"),
]}

item = {"external_id": "123456789", "sku": "TSHIRT-001", "name": "T-Shirt", "category": "Shirts", "price_minor": 2999, "currency": "USD",
        "is_active": True, "vendor": "My Store", "variant_name": "Default Title", "parent_id": "9554194432293", "updated_at": "2025-04-22T19:30:00Z"}
envelope = {"event_id": "evt_0f5c1d2e3a4b5c6d7e8f901234567890", "type": "pos.catalog.item.upserted", "data": {"item": item},
            "schema_version": 1, "tenant_id": "demo-cafe", "provider": "shopify", "entity_id": "123456789",
            "occurred_at": "2025-04-22T19:30:00Z", "received_at": "2025-04-22T19:30:00Z", "correlation_id": "01964f0e-8a20-7000-8000-000000000001"}
eb = {"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "pos.catalog.item.upserted", "source": "tillbridge",
      "account": "123456789012", "time": "2025-04-22T19:30:01Z", "region": "us-east-1", "resources": ["tillbridge:tenant/demo-cafe"], "detail": envelope}
events["sqs-catalog.json"] = {"Records": [sqs_record("4a1c3e9b-5c1f-4b8e-9d7a-2f6b8c0d1e23", json.dumps(eb), "tillbridge-catalog")]}

for name, ev in events.items():
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(ev, f, indent=2)
        f.write("\n")
print("\n".join(events))
