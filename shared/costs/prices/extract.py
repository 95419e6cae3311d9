#!/usr/bin/env python3
"""Writes aws-price-list.json: an extract of the AWS Price List Bulk API offer files
(https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<offer>/current/<region>/index.json)
with only the dimensions tillbridge meters, for us-east-1 and eu-north-1 (Stockholm).

List prices as of 2026-01, USD per unit, first tier, free tiers not applied. Sources: the
pricing pages aws.amazon.com/{lambda,api-gateway,sqs,eventbridge,dynamodb,s3,cloudwatch,
secrets-manager,kms,xray}/pricing/ (region selector: US East (N. Virginia), Europe
(Stockholm)). Before billing a customer from these, check each with
`aws pricing get-products --region us-east-1 --service-code <code> --filters
Type=TERM_MATCH,Field=regionCode,Value=<region> Type=TERM_MATCH,Field=usagetype,Value=<type>`
and correct the table below (the eu-north-1 column was transcribed, not fetched).
"""
import json
import pathlib

LOCATION = {"us-east-1": "US East (N. Virginia)", "eu-north-1": "EU (Stockholm)"}
PREFIX = {"us-east-1": "USE1-", "eu-north-1": "EUN1-"}

# (offer, usage type without prefix, unit, description, {region: USD per unit})
DIMENSIONS = [
    ("AWSLambda", "Lambda-GB-Second-ARM", "Lambda-GB-Second", "AWS Lambda - Total Compute (ARM)",
     {"us-east-1": "0.0000133334", "eu-north-1": "0.0000133334"}),
    ("AWSLambda", "Request-ARM", "Requests", "AWS Lambda - Total Requests (ARM)",
     {"us-east-1": "0.0000002", "eu-north-1": "0.0000002"}),
    ("AmazonApiGateway", "ApiGatewayHttpRequest", "Requests", "HTTP API requests, first 300 million per month",
     {"us-east-1": "0.000001", "eu-north-1": "0.00000105"}),
    ("AWSQueueService", "Requests-Tier1", "Requests", "Amazon SQS standard requests (64 KB chunks), after the free tier",
     {"us-east-1": "0.0000004", "eu-north-1": "0.0000004"}),
    ("AWSEvents", "Event-64K-Chunks", "Events", "Amazon EventBridge custom events (64 KB chunks)",
     {"us-east-1": "0.000001", "eu-north-1": "0.000001"}),
    ("AmazonDynamoDB", "WriteRequestUnits", "WriteRequestUnits", "DynamoDB on-demand write request units",
     {"us-east-1": "0.000000625", "eu-north-1": "0.00000066125"}),
    ("AmazonDynamoDB", "ReadRequestUnits", "ReadRequestUnits", "DynamoDB on-demand read request units",
     {"us-east-1": "0.000000125", "eu-north-1": "0.00000013225"}),
    ("AmazonDynamoDB", "TimedStorage-ByteHrs", "GB-Mo", "DynamoDB Standard table class storage, per GB-month",
     {"us-east-1": "0.25", "eu-north-1": "0.2645"}),
    ("AmazonS3", "Requests-Tier1", "Requests", "S3 Standard PUT, COPY, POST, LIST requests",
     {"us-east-1": "0.000005", "eu-north-1": "0.000005"}),
    ("AmazonS3", "Requests-Tier2", "Requests", "S3 Standard GET and all other requests",
     {"us-east-1": "0.0000004", "eu-north-1": "0.0000004"}),
    ("AmazonS3", "TimedStorage-ByteHrs", "GB-Mo", "S3 Standard storage, first 50 TB per month",
     {"us-east-1": "0.023", "eu-north-1": "0.023"}),
    ("AmazonCloudWatch", "DataProcessing-Bytes", "GB", "CloudWatch Logs ingestion (Standard log class)",
     {"us-east-1": "0.50", "eu-north-1": "0.50"}),
    ("AWSSecretsManager", "AWSSecretsManager-Secrets", "Secrets", "Secrets Manager secret per month (prorated)",
     {"us-east-1": "0.40", "eu-north-1": "0.40"}),
    ("AWSSecretsManager", "AWSSecretsManager-APIRequest", "API Requests", "Secrets Manager API calls ($0.05 per 10,000)",
     {"us-east-1": "0.000005", "eu-north-1": "0.000005"}),
    ("awskms", "KMS-Requests", "Requests", "AWS KMS symmetric requests ($0.03 per 10,000)",
     {"us-east-1": "0.000003", "eu-north-1": "0.000003"}),
    ("AWSXRay", "XRay-TracesStored", "Traces", "AWS X-Ray traces recorded ($5.00 per million)",
     {"us-east-1": "0.000005", "eu-north-1": "0.000005"}),
]


def usage_type(offer, usage, region):
    if offer == "awskms":
        return f"{region}-{usage}"
    return PREFIX[region] + usage


def main():
    offers = {}
    n = 0
    for offer, usage, unit, desc, prices in DIMENSIONS:
        o = offers.setdefault(offer, {
            "formatVersion": "v1.0",
            "disclaimer": "Extract of the AWS Price List Bulk API offer file: only the dimensions tillbridge meters, us-east-1 and eu-north-1, list prices as of 2026-01.",
            "offerCode": offer,
            "version": "20260101000000",
            "publicationDate": "2026-01-01T00:00:00Z",
            "products": {},
            "terms": {"OnDemand": {}},
        })
        for region, price in prices.items():
            sku = f"TB{offer[:4].upper()}{n:04d}"
            n += 1
            o["products"][sku] = {
                "sku": sku,
                "productFamily": "tillbridge extract",
                "attributes": {
                    "servicecode": offer,
                    "location": LOCATION[region],
                    "regionCode": region,
                    "usagetype": usage_type(offer, usage, region),
                },
            }
            term = f"{sku}.JRTCKXETXF"
            rate = f"{term}.6YS6EN2CT7"
            o["terms"]["OnDemand"][sku] = {term: {
                "offerTermCode": "JRTCKXETXF",
                "sku": sku,
                "effectiveDate": "2026-01-01T00:00:00Z",
                "priceDimensions": {rate: {
                    "rateCode": rate,
                    "description": desc,
                    "beginRange": "0",
                    "endRange": "Inf",
                    "unit": unit,
                    "pricePerUnit": {"USD": price},
                }},
            }}
    out = pathlib.Path(__file__).with_name("aws-price-list.json")
    out.write_text(json.dumps(list(offers.values()), indent=1) + "\n")


if __name__ == "__main__":
    main()
