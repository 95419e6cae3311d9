//! One module per vendor: its signature scheme, ingress precheck, delivery identity, payload
//! normalizer and (with the `signing` feature) its signer, side by side. The public
//! dispatchers ([`crate::verify`], [`crate::precheck`], [`crate::identity`],
//! [`crate::normalize`], `crate::sign`) pick the vendor by [`tillbridge_domain::Provider`].

pub(crate) mod bigcommerce;
pub(crate) mod clover;
pub(crate) mod lightspeed;
pub(crate) mod shopify;
pub(crate) mod square;
pub(crate) mod standard_webhooks;
pub(crate) mod stripe;
pub(crate) mod toast;
pub(crate) mod woocommerce;
pub(crate) mod zettle;
