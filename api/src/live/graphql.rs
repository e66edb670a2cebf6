//! Subscriptions: incidents' and corrective actions' events as they happen.
//!
//! Every event is checked against the subscriber as it is now, not as they were when they
//! subscribed: the token must still be in date, and a person's roles and departments are
//! those their token and their latest token (the staff record) both grant. An event is sent
//! only about a record the subscriber could read by query at that moment, shaped by the
//! same types as a query (so a sensitive field is null where a query's would be, and each
//! read of one is in the access log).
use std::collections::{BTreeSet, HashSet, VecDeque};
use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, Subscription, ID};
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::feed::{self, ActionEventType, Batch, IncidentEventType, LiveEvent, Subject};
use crate::action::graphql::CorrectiveAction;
use crate::auth::{Principal, Role};
use crate::context::{AppState, RequestCtx};
use crate::error::{AppError, AppResult};
use crate::graphql::request;
use crate::incident::graphql::Incident;
use crate::incident::model::{HarmLevel, IncidentKind};
use crate::record::ids::{self, Kind};
use crate::trail::graphql::FieldChange;

type GqlResult<T> = async_graphql::Result<T>;

/// What a subscription knows of its connection.
pub struct LiveCaller {
    /// The first second (since the epoch) at which the connection's token is refused.
    pub expires_at: i64,
    /// The feed, listened to, and the chain's last place when the subscribe message was
    /// read: events sealed after the server read it are the subscription's, whenever its
    /// stream starts.
    pub start: std::sync::Mutex<Option<(tokio::sync::broadcast::Receiver<Arc<Batch>>, i64)>>,
}

/// Which incidents' events to send; all given must match.
#[derive(InputObject, Default)]
pub struct IncidentEventFilter {
    /// Only these departments' incidents.
    pub department_ids: Option<Vec<ID>>,
    /// Only these kinds.
    pub kinds: Option<Vec<IncidentKind>>,
    /// Only incidents whose physical or psychological harm is at least this.
    pub min_harm: Option<HarmLevel>,
    /// Only these events.
    pub types: Option<Vec<IncidentEventType>>,
}

/// Which corrective actions' events to send; all given must match.
#[derive(InputObject, Default)]
pub struct ActionEventFilter {
    /// Only these departments' actions.
    pub department_ids: Option<Vec<ID>>,
    /// Only these events.
    pub types: Option<Vec<ActionEventType>>,
}

/// Something that happened to an incident.
pub struct IncidentEvent {
    seq: i64,
    kind: IncidentEventType,
    at: DateTime<Utc>,
    changes: Vec<crate::trail::FieldChange>,
    incident: Incident,
}

/// Something that happened to an incident.
#[Object]
impl IncidentEvent {
    /// The event's place in the trail: pass it as `after` when subscribing again, to
    /// receive what happened since without a gap.
    async fn id(&self) -> ID {
        ID(self.seq.to_string())
    }
    /// What happened.
    async fn r#type(&self) -> IncidentEventType {
        self.kind
    }
    /// When it happened.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.at
    }
    /// The fields the change touched, as its history shows them (free text as `sensitive`
    /// without its words); empty for subscribers who may not see the incident's history.
    async fn changes(&self) -> Vec<FieldChange> {
        self.changes
            .iter()
            .cloned()
            .map(FieldChange::from)
            .collect()
    }
    /// The incident as it stands now, as a query would show it to the subscriber.
    async fn incident(&self) -> &Incident {
        &self.incident
    }
}

/// Something that happened to a corrective action.
pub struct ActionEvent {
    seq: i64,
    kind: ActionEventType,
    at: DateTime<Utc>,
    changes: Vec<crate::trail::FieldChange>,
    action: CorrectiveAction,
}

/// Something that happened to a corrective action.
#[Object]
impl ActionEvent {
    /// The event's place in the trail: pass it as `after` when subscribing again.
    async fn id(&self) -> ID {
        ID(self.seq.to_string())
    }
    /// What happened.
    async fn r#type(&self) -> ActionEventType {
        self.kind
    }
    /// When it happened.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.at
    }
    /// The fields the change touched (free text as `sensitive` without its words).
    async fn changes(&self) -> Vec<FieldChange> {
        self.changes
            .iter()
            .cloned()
            .map(FieldChange::from)
            .collect()
    }
    /// The corrective action as it stands now, as a query would show it to the subscriber.
    async fn corrective_action(&self) -> &CorrectiveAction {
        &self.action
    }
}

#[derive(Default)]
pub struct LiveSubscription;

/// Live events, over the `graphql-transport-ws` protocol on `/graphql` (docs/integrators.md).
#[Subscription(name = "Subscription")]
impl LiveSubscription {
    /// Incidents reported, triaged, moved on, commented on and closed, as they happen, for
    /// the incidents the subscriber may see. `after` resumes after the last event id seen.
    async fn incident_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which incidents' events to send.")] filter: Option<IncidentEventFilter>,
        #[graphql(desc = "Resume after this event id (a reconnecting client's last).")]
        after: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = GqlResult<IncidentEvent>>> {
        let filter = filter.unwrap_or_default();
        let want = Want {
            departments: departments(filter.department_ids, "filter.departmentIds")?,
            kinds: filter
                .kinds
                .map(|ks| ks.into_iter().map(|k| k.as_str().to_string()).collect()),
            min_harm: filter.min_harm.map(HarmLevel::rank),
            incident_types: filter.types.map(|t| t.into_iter().collect()),
            action_types: None,
        };
        let follow = Follow::start(ctx, after, want).await?;
        Ok(follow.stream::<IncidentEvent>())
    }

    /// Corrective actions assigned, falling due, going overdue and verified, as they
    /// happen, for the actions the subscriber may see. `after` resumes after an event id.
    async fn action_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which actions' events to send.")] filter: Option<ActionEventFilter>,
        #[graphql(desc = "Resume after this event id (a reconnecting client's last).")]
        after: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = GqlResult<ActionEvent>>> {
        let filter = filter.unwrap_or_default();
        let want = Want {
            departments: departments(filter.department_ids, "filter.departmentIds")?,
            kinds: None,
            min_harm: None,
            incident_types: None,
            action_types: Some(filter.types.map(|t| t.into_iter().collect())),
        };
        let follow = Follow::start(ctx, after, want).await?;
        Ok(follow.stream::<ActionEvent>())
    }
}

fn departments(ids: Option<Vec<ID>>, field: &str) -> AppResult<Option<HashSet<Uuid>>> {
    ids.map(|ids| {
        ids.iter()
            .map(|id| ids::decode_as(Kind::Department, id, field))
            .collect()
    })
    .transpose()
}

/// Listens to the feed, then finds where the chain stands: nothing sealed in between is
/// lost.
pub async fn listen(
    state: &AppState,
) -> AppResult<(tokio::sync::broadcast::Receiver<Arc<Batch>>, i64)> {
    let rx = state.live.subscribe();
    let head = feed::head(&state.db).await?;
    Ok((rx, head))
}

/// What the subscriber asked for.
struct Want {
    departments: Option<HashSet<Uuid>>,
    kinds: Option<HashSet<String>>,
    min_harm: Option<i16>,
    incident_types: Option<HashSet<IncidentEventType>>,
    /// Some for an `actionEvents` subscription (with its types, if it names them).
    action_types: Option<Option<HashSet<ActionEventType>>>,
}

/// One subscription following the feed: the events it has not yet sent, and how far along
/// the chain it has read.
struct Follow {
    state: Arc<AppState>,
    token: Principal,
    request_id: String,
    expires_at: i64,
    want: Want,
    rx: tokio::sync::broadcast::Receiver<Arc<Batch>>,
    /// Every place in the chain up to here is sent, queued or announces nothing for it.
    covered: i64,
    /// Whether the database has been read up to the feed (after a gap, it must be again).
    caught_up: bool,
    pending: VecDeque<Arc<LiveEvent>>,
    ended: bool,
}

impl Follow {
    async fn start(ctx: &Context<'_>, after: Option<ID>, want: Want) -> AppResult<Self> {
        let state = ctx.data_unchecked::<Arc<AppState>>().clone();
        let rc = request(ctx);
        let token = rc.principal()?.clone();
        let caller = ctx
            .data_opt::<LiveCaller>()
            .ok_or_else(|| AppError::invalid("subscription", "subscribe over a websocket"))?;
        let expires_at = caller.expires_at;
        let start = caller.start.lock().expect("start").take();
        let (rx, head) = match start {
            Some(s) => s,
            None => listen(&state).await?,
        };
        let (covered, caught_up) = match after {
            None => (head, true),
            Some(id) => {
                let seq: i64 = id
                    .parse()
                    .ok()
                    .filter(|s| *s >= 0 && *s <= head)
                    .ok_or_else(|| AppError::invalid("after", "not an event id of this trail"))?;
                let max = state.settings.subscriptions.max_replay;
                if head - seq > max {
                    return Err(AppError::invalid(
                        "after",
                        format!("more than {max} events ago: read what changed by query"),
                    ));
                }
                (seq, false)
            }
        };
        Ok(Self {
            state,
            token,
            request_id: rc.request_id.clone(),
            expires_at,
            want,
            rx,
            covered,
            caught_up,
            pending: VecDeque::new(),
            ended: false,
        })
    }

    fn take(&mut self, batch: &Batch) {
        for e in &batch.events {
            if e.seq > self.covered {
                self.pending.push_back(e.clone());
            }
        }
        self.covered = self.covered.max(batch.upto);
    }

    /// The next event in the chain that announces something, whoever it is for.
    async fn next_event(&mut self) -> AppResult<Option<Arc<LiveEvent>>> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(Some(e));
            }
            if !self.caught_up {
                let batch = feed::read(&self.state.db, self.covered).await?;
                self.caught_up = batch.upto - batch.after < feed::PAGE as i64;
                self.take(&batch);
                continue;
            }
            match self.rx.recv().await {
                // A gap: read it from the database, then go on with the feed.
                Ok(batch) if batch.after > self.covered => self.caught_up = false,
                Ok(batch) => self.take(&batch),
                Err(RecvError::Lagged(_)) => self.caught_up = false,
                Err(RecvError::Closed) => return Ok(None),
            }
        }
    }

    /// The subscriber as they are now: in date, with what both their token and their
    /// latest token grant.
    async fn caller(&self) -> AppResult<Principal> {
        if Utc::now().timestamp() >= self.expires_at {
            return Err(AppError::Unauthenticated(
                "the token expired: connect again with a new one",
            ));
        }
        let mut p = self.token.clone();
        if p.is_service() {
            return Ok(p);
        }
        if let Some(latest) = self.state.live.latest(&self.state.db, &p.subject).await? {
            let roles: BTreeSet<Role> =
                latest.roles.iter().filter_map(|r| Role::parse(r)).collect();
            p.roles.retain(|r| *r == Role::Staff || roles.contains(r));
            p.department_codes
                .retain(|c| latest.department_codes.contains(c));
        }
        Ok(p)
    }

    fn context(&self, p: Principal) -> RequestCtx {
        RequestCtx::new(
            self.request_id.clone(),
            Ok(Some(p)),
            Default::default(),
            None,
            1,
        )
    }

    fn in_departments(&self, department: Uuid) -> bool {
        self.want
            .departments
            .as_ref()
            .is_none_or(|d| d.contains(&department))
    }

    async fn incident_event(&self, e: Arc<LiveEvent>) -> AppResult<Option<IncidentEvent>> {
        let Subject::Incident(kind, m) = &e.subject else {
            return Ok(None);
        };
        let w = &self.want;
        if w.incident_types.as_ref().is_some_and(|t| !t.contains(kind))
            || w.kinds.as_ref().is_some_and(|k| !k.contains(&m.kind))
            || w.min_harm
                .is_some_and(|h| m.physical_harm.max(m.psychological_harm) < h)
            || !self.in_departments(m.department_id)
            || m.disposed_at.is_some()
        {
            return Ok(None);
        }
        let rc = self.context(self.caller().await?);
        let access = crate::incident::service::access_to(&self.state, &rc, m).await?;
        if !access.view {
            return Ok(None);
        }
        Ok(Some(IncidentEvent {
            seq: e.seq,
            kind: *kind,
            at: e.at,
            changes: if access.internal {
                e.changes.clone()
            } else {
                Vec::new()
            },
            incident: Incident::new((**m).clone(), access),
        }))
    }

    async fn action_event(&self, e: Arc<LiveEvent>) -> AppResult<Option<ActionEvent>> {
        let Subject::Action(kind, m) = &e.subject else {
            return Ok(None);
        };
        if self
            .want
            .action_types
            .as_ref()
            .and_then(|t| t.as_ref())
            .is_some_and(|t| !t.contains(kind))
            || !self.in_departments(m.department_id)
        {
            return Ok(None);
        }
        let rc = self.context(self.caller().await?);
        let access = crate::action::service::access_to(&self.state, &rc, m).await?;
        if !access.view {
            return Ok(None);
        }
        Ok(Some(ActionEvent {
            seq: e.seq,
            kind: *kind,
            at: e.at,
            changes: e.changes.clone(),
            action: CorrectiveAction::new((**m).clone(), access),
        }))
    }

    /// The subscription's events, or one error that ends it.
    fn stream<T: Announce>(self) -> impl Stream<Item = GqlResult<T>> {
        futures_util::stream::unfold(self, |mut f| async move {
            if f.ended {
                return None;
            }
            loop {
                let next = match f.next_event().await {
                    Ok(Some(e)) => T::admit(&mut f, e).await,
                    Ok(None) => return None,
                    Err(err) => Err(err),
                };
                match next {
                    Ok(Some(item)) => return Some((Ok(item), f)),
                    Ok(None) => continue,
                    Err(err) => {
                        f.ended = true;
                        return Some((Err(err.into()), f));
                    }
                }
            }
        })
    }
}

/// An event type a subscription sends: which feed events it admits, and how it shows them.
trait Announce: Sized + Send + 'static {
    fn admit(f: &mut Follow, e: Arc<LiveEvent>) -> BoxFuture<'_, AppResult<Option<Self>>>;
}

impl Announce for IncidentEvent {
    fn admit(f: &mut Follow, e: Arc<LiveEvent>) -> BoxFuture<'_, AppResult<Option<Self>>> {
        Box::pin(f.incident_event(e))
    }
}

impl Announce for ActionEvent {
    fn admit(f: &mut Follow, e: Arc<LiveEvent>) -> BoxFuture<'_, AppResult<Option<Self>>> {
        Box::pin(f.action_event(e))
    }
}
