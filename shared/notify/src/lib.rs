//! Notification decisions for tillbridge, without I/O: what to tell whom, how urgently,
//! in which words, and how to sign it.
//!
//! - [`calendar`]: the Swedish business calendar (Europe/Stockholm, business hours,
//!   public holidays computed per year, Easter-based feasts included).
//! - [`severity`](mod@severity): turns an event's base level into an adjusted level and a delivery time
//!   (critical pages at any hour; warnings outside business hours wait for the next
//!   business morning), so the on-call is woken only when it matters.
//! - [`template`]: the message of each notifiable event in English and Swedish, from the
//!   event's fields, with no personal data.
//! - [`webhook`]: Standard Webhooks signing of outbound deliveries and the jittered
//!   exponential retry schedule.
//! - [`routing`]: a tenant's settings (channels, events, language, least level) and the
//!   routes an event takes.
//!
//! The sending itself (HTTP, SES, the batch store for deferred notifications) belongs to
//! the callers (a Lambda, `tillbridge serve`), which this crate leaves free to choose.

pub mod alarm;
pub mod calendar;
pub mod routing;
pub mod severity;
pub mod template;
pub mod webhook;

pub use calendar::BusinessCalendar;
pub use routing::{Channel, ChannelSettings, Route, TenantSettings, route};
pub use severity::{Delivery, Level, Severity, severity};
pub use template::{Language, Message, Template, render, render_envelope, template_for};
pub use webhook::{SignedHeaders, retry_delay, sign};
