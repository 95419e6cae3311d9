//! The operator's transitions (approve, pause, resume, cancel, rollback) and the stages' own
//! (suggestions ready, fail): each a version-checked update of the record, then the event
//! that moves the migration on.

use tillbridge_domain::event::{EventData, MappingApproved, RollbackRequested};
use tillbridge_domain::{Envelope, MigrationId, Timestamp};
use tillbridge_ports::EventBus;
use tillbridge_ports::table::{Item, Table, Update, update_item};

use crate::keys::{STATE_SK, state_pk};
use crate::record::{event, load};
use crate::start::requested_event;
use crate::{Migration, MigrationError, Refusal, Status, apply, publish, rollback};

/// Reads the record, lets `f` change it, writes it if unchanged since; retries races.
pub(crate) async fn update(
    table: &dyn Table,
    id: &MigrationId,
    mut f: impl FnMut(&mut Migration) -> Result<(), Refusal>,
) -> Result<Migration, MigrationError> {
    let pk = state_pk(id);
    update_item(table, &pk, STATE_SK, &[], 16, |current, _| {
        let Some(item) = current else {
            return Err(Refusal::NotFound.into());
        };
        let mut m: Migration = item.doc()?;
        f(&mut m)?;
        Ok(Update::Put {
            item: Item::with_doc(&pk, STATE_SK, &m)?,
            also: Vec::new(),
            value: m,
        })
    })
    .await
}

/// Moves a migration that is still `from` (a redelivery or an operator may have moved it
/// already): the record after `f`, or None when it was no longer `from`.
pub(crate) async fn advance(
    table: &dyn Table,
    id: &MigrationId,
    from: Status,
    mut f: impl FnMut(&mut Migration),
) -> Result<Option<Migration>, MigrationError> {
    let moved = update(table, id, |m| {
        if m.status != from {
            return Err(Refusal::Conflict(String::new()));
        }
        f(m);
        Ok(())
    })
    .await;
    match moved {
        Ok(m) => Ok(Some(m)),
        Err(MigrationError::Refused(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// An operator's request: the change `f` allows, then the event that moves the migration on.
pub(crate) async fn act(
    table: &dyn Table,
    bus: &dyn EventBus,
    id: &MigrationId,
    f: impl FnMut(&mut Migration) -> Result<(), Refusal>,
    next: impl FnOnce(&Migration) -> Option<Envelope>,
) -> Result<Migration, MigrationError> {
    let m = update(table, id, f).await?;
    if let Some(e) = next(&m) {
        publish(bus, &[e]).await?;
    }
    Ok(m)
}

/// Called by mapping-suggest once suggestions are stored: pending → mapping_review.
///
/// # Errors
///
/// The table failed or the record does not parse. A migration that is no longer pending (or
/// does not exist) is left as it is, not an error.
pub async fn suggestions_ready(
    table: &dyn Table,
    id: &MigrationId,
    at: Timestamp,
) -> Result<(), MigrationError> {
    advance(table, id, Status::Pending, |m| {
        m.moved(Status::MappingReview, at, "mapping-suggest");
    })
    .await?;
    Ok(())
}

/// A reviewer approves the mapping: mapping_review → validating, `migration.mapping.approved`.
///
/// # Errors
///
/// [`MigrationError::Refused`] with [`Refusal::Invalid`] for a blank reviewer,
/// [`Refusal::NotFound`], or [`Refusal::Conflict`] when nothing is mapped to `external_id` or
/// the migration is not in mapping_review; a failing table or bus otherwise.
pub async fn approve(
    table: &dyn Table,
    bus: &dyn EventBus,
    id: &MigrationId,
    reviewer: &str,
    at: Timestamp,
) -> Result<Migration, MigrationError> {
    approve_with(table, bus, id, reviewer, at, false).await
}

/// As [`approve`]; with `preview` the migration stops after validation (status previewed,
/// the report saying what would be created, changed or left unchanged) until a second
/// approval. Approving a previewed migration applies it: previewed → applying and the first
/// apply request.
///
/// # Errors
///
/// As [`approve`]; a previewed migration can be approved once.
pub async fn approve_with(
    table: &dyn Table,
    bus: &dyn EventBus,
    id: &MigrationId,
    reviewer: &str,
    at: Timestamp,
    preview: bool,
) -> Result<Migration, MigrationError> {
    if reviewer.trim().is_empty() {
        return Err(MigrationError::Refused(Refusal::Invalid(
            "approval needs a reviewer".into(),
        )));
    }
    let Some((current, _)) = load(table, id).await? else {
        return Err(MigrationError::Refused(Refusal::NotFound));
    };
    if current.status == Status::Previewed {
        return act(
            table,
            bus,
            id,
            |m| match m.status {
                Status::Previewed => {
                    m.approved_by = Some(reviewer.to_owned());
                    m.moved(Status::Applying, at, &format!("{reviewer} (after preview)"));
                    Ok(())
                }
                s => Err(Refusal::Conflict(format!(
                    "the migration is {}; only a previewed migration can be applied",
                    s.as_str()
                ))),
            },
            |m| Some(crate::apply::request_event(m, 0, "start", at)),
        )
        .await;
    }
    let mapping =
        crate::review::approved_mapping(table, &current.tenant_id, current.id.as_str()).await?;
    if !mapping.iter().any(|f| f.target == "external_id") {
        return Err(MigrationError::Refused(Refusal::Conflict(
            "no source field is mapped to external_id; override one before approving (an export without an id column: its SKU column, e.g. Shopify's Variant SKU)".into(),
        )));
    }
    let mapped_fields = mapping.len() as u64;
    act(
        table,
        bus,
        id,
        |m| match m.status {
            Status::MappingReview => {
                m.approved_by = Some(reviewer.to_owned());
                m.preview = preview;
                m.moved(Status::Validating, at, reviewer);
                Ok(())
            }
            s => Err(Refusal::Conflict(format!(
                "the migration is {}; only a migration in mapping_review can be approved",
                s.as_str()
            ))),
        },
        |m| {
            Some(event(
                m,
                "approved",
                EventData::MigrationMappingApproved(MappingApproved {
                    migration_id: m.id.to_string(),
                    approved_by: reviewer.to_owned(),
                    mapped_fields,
                }),
                at,
            ))
        },
    )
    .await
}

/// Pauses at the next checkpoint (the apply stops between batches).
///
/// # Errors
///
/// [`MigrationError::Refused`]: [`Refusal::NotFound`], or [`Refusal::Conflict`] once the
/// migration is past applying (completed, failed, cancelled, rolling back, rolled back); a
/// failing table otherwise.
pub async fn pause(
    table: &dyn Table,
    id: &MigrationId,
    by: &str,
    at: Timestamp,
) -> Result<Migration, MigrationError> {
    update(table, id, |m| match m.status {
        Status::Pending | Status::MappingReview | Status::Validating | Status::Applying => {
            m.paused = true;
            m.noted(at, &format!("{by} (paused)"));
            Ok(())
        }
        s => Err(Refusal::Conflict(format!(
            "a {} migration cannot be paused",
            s.as_str()
        ))),
    })
    .await
}

/// Resumes a paused migration where it stopped.
///
/// # Errors
///
/// [`MigrationError::Refused`]: [`Refusal::NotFound`], or [`Refusal::Conflict`] when it is
/// not paused; a failing table or bus otherwise.
pub async fn resume(
    table: &dyn Table,
    bus: &dyn EventBus,
    id: &MigrationId,
    by: &str,
    at: Timestamp,
) -> Result<Migration, MigrationError> {
    act(
        table,
        bus,
        id,
        |m| {
            if !m.paused {
                return Err(Refusal::Conflict("the migration is not paused".into()));
            }
            m.paused = false;
            m.noted(at, &format!("{by} (resumed)"));
            Ok(())
        },
        |m| match m.status {
            Status::Applying => Some(apply::request_event(
                m,
                m.progress.applied,
                &format!("resume-{}", m.history.len()),
                at,
            )),
            Status::Pending => Some(requested_event(m)),
            _ => None,
        },
    )
    .await
}

/// Cancels: before the apply the migration simply ends; during the apply it stops at the
/// next checkpoint and what it applied is rolled back.
///
/// # Errors
///
/// [`MigrationError::Refused`]: [`Refusal::NotFound`], or [`Refusal::Conflict`] once it is
/// past applying (completed, failed, cancelled, rolling back, rolled back); a failing table or
/// bus otherwise.
pub async fn cancel(
    table: &dyn Table,
    bus: &dyn EventBus,
    id: &MigrationId,
    by: &str,
    at: Timestamp,
) -> Result<Migration, MigrationError> {
    act(
        table,
        bus,
        id,
        |m| match m.status {
            Status::Pending | Status::MappingReview | Status::Validating | Status::Previewed => {
                m.moved(Status::Cancelled, at, by);
                Ok(())
            }
            Status::Applying if m.paused => {
                m.moved(Status::RollingBack, at, &format!("{by} (cancelled)"));
                Ok(())
            }
            Status::Applying => {
                m.cancel_requested = true;
                m.updated_at = at;
                Ok(())
            }
            s => Err(Refusal::Conflict(format!(
                "a {} migration cannot be cancelled{}",
                s.as_str(),
                if s == Status::Completed {
                    "; request a rollback to undo it"
                } else {
                    ""
                }
            ))),
        },
        |m| (m.status == Status::RollingBack).then(|| rollback::request_event(m, by, at)),
    )
    .await
}

/// Asks for the undo of an applied (or failed, or stopped) migration.
///
/// # Errors
///
/// [`MigrationError::Refused`]: [`Refusal::NotFound`], or [`Refusal::Conflict`] when nothing
/// was applied (pending to validating, cancelled, a failure before the snapshot), while it is
/// applying unpaused, or once rolled back; a failing table or bus otherwise.
pub async fn request_rollback(
    table: &dyn Table,
    bus: &dyn EventBus,
    id: &MigrationId,
    by: &str,
    at: Timestamp,
) -> Result<Migration, MigrationError> {
    if let Some(newer) = applied_on_top(table, id).await? {
        return Err(MigrationError::Refused(Refusal::Conflict(format!(
            "roll back {} first: it was applied after this migration on the same catalog ({}); stacked migrations roll back newest first",
            newer.id, newer.source_name
        ))));
    }
    act(
        table,
        bus,
        id,
        |m| match m.status {
            Status::Completed | Status::Failed if m.snapshot.is_some() => {
                m.moved(Status::RollingBack, at, by);
                Ok(())
            }
            Status::Applying if m.paused => {
                m.moved(Status::RollingBack, at, by);
                Ok(())
            }
            // Asked again: the request stands (republished below, same event id).
            Status::RollingBack => Ok(()),
            Status::RolledBack => Err(Refusal::Conflict("already rolled back".into())),
            s => Err(Refusal::Conflict(format!(
                "a {} migration has nothing applied to roll back{}",
                s.as_str(),
                if s == Status::Applying {
                    "; pause or cancel it first"
                } else {
                    ""
                }
            ))),
        },
        |m| Some(rollback::request_event(m, by, at)),
    )
    .await
}

/// A migration of the same tenant and source (the same catalog namespace) whose snapshot was
/// taken after this one's (or at the same instant, created after it) and whose writes are
/// still there (applying, or completed, failed after its snapshot or being rolled back having
/// written something): undoing this one first would undo under it.
async fn applied_on_top(
    table: &dyn Table,
    id: &MigrationId,
) -> Result<Option<Migration>, MigrationError> {
    let Some((m, _)) = load(table, id).await? else {
        return Ok(None);
    };
    let Some(snapshot) = m.snapshot.as_ref() else {
        return Ok(None);
    };
    if matches!(m.status, Status::RollingBack | Status::RolledBack) {
        return Ok(None);
    }
    Ok(crate::list(table, &m.tenant_id)
        .await?
        .into_iter()
        .find(|o| {
            o.id != m.id
                && o.source_name == m.source_name
                && (o.status == Status::Applying
                    || (matches!(
                        o.status,
                        Status::Completed | Status::Failed | Status::RollingBack
                    ) && wrote(o)))
                // Later snapshot; at the same instant, the later migration (ids are
                // time-ordered).
                && o.snapshot.as_ref().is_some_and(|s| {
                    (s.taken_at, o.id.as_str()) > (snapshot.taken_at, m.id.as_str())
                })
        }))
}

/// Whether a migration's apply wrote anything (a re-run that found everything unchanged
/// stands on nothing).
fn wrote(m: &Migration) -> bool {
    let p = &m.progress;
    p.created + p.changed + p.destination.written > 0
}

/// Marks a migration failed with a reason an operator can act on (the stage gave up).
///
/// # Errors
///
/// The table failed. A migration already completed, rolled back or cancelled (or missing) is
/// left as it is, not an error.
pub async fn fail(
    table: &dyn Table,
    id: &MigrationId,
    reason: &str,
    at: Timestamp,
) -> Result<(), MigrationError> {
    let failed = update(table, id, |m| {
        if matches!(
            m.status,
            Status::Completed | Status::RolledBack | Status::Cancelled
        ) {
            return Err(Refusal::Conflict(String::new()));
        }
        m.error = Some(reason.to_owned());
        m.moved(Status::Failed, at, "tillbridge");
        Ok(())
    })
    .await;
    match failed {
        Ok(_) | Err(MigrationError::Refused(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The request that `RollbackRequested` carries (for tests and callers building events).
pub fn rollback_request(m: &Migration, by: &str) -> RollbackRequested {
    RollbackRequested {
        migration_id: m.id.to_string(),
        requested_by: by.to_owned(),
    }
}
