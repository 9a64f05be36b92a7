//! Least privilege in etcd: the roles of one certslot cluster, and who holds them.
//!
//! Every identity authenticates with a client certificate (etcd's `--client-cert-auth`): the
//! certificate's common name is the etcd user, created without a password, so there is no
//! token to expire and no password to leak. [`setup_access`] makes the cluster's roles with
//! exactly the permissions below (granting what is missing and revoking what is not listed, so
//! running it again repairs a role someone widened), creates the users and grants them their
//! roles, and, when asked, turns etcd's authentication on.
//!
//! | role | may read | may write |
//! |---|---|---|
//! | `certslot:<cluster>:admin` | the cluster's keys | the cluster's keys |
//! | `certslot:<cluster>:coordinator` | the cluster's keys | the state, the deliveries, receipts, the queue, the election key, the http-01 answers |
//! | `certslot:<cluster>:reader` | the cluster's keys | nothing |
//! | `certslot:<cluster>:keyserver` | the cluster's keys | the partners' fetch records |
//! | `certslot:<cluster>:agent:<server>` | its server's delivery | its server's report |
//!
//! etcd lets a user revoke a lease only when it may write every key attached to it, so an agent
//! cannot revoke another agent's lease, and it attaches to its own lease only the report it may
//! write.

use std::collections::{BTreeMap, BTreeSet};

use etcd_client::{Permission, PermissionType, RoleRevokePermissionOptions, UserAddOptions};

use super::cluster::Cluster;
use super::connection::{Connection, EtcdError};

/// Who holds which role of a cluster: etcd user names (the common names of their client
/// certificates).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessPlan {
    /// Admins: every admin command.
    pub admins: BTreeSet<String>,
    /// Coordinators: advance, renew, record reports; no topology change, no import.
    pub coordinators: BTreeSet<String>,
    /// Readers: read the state and the reports (monitoring).
    pub readers: BTreeSet<String>,
    /// Key servers (`serve`): read like readers, and record partners' fetches.
    pub key_servers: BTreeSet<String>,
    /// Agents: server name (lowercase) → the user of that server's agent.
    pub agents: BTreeMap<String, String>,
}

/// What [`setup_access`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessReport {
    /// Roles created.
    pub roles_created: Vec<String>,
    /// Permissions granted, as `role: perm key..end`.
    pub granted: Vec<String>,
    /// Permissions revoked (not in the role's definition).
    pub revoked: Vec<String>,
    /// Users created (no password: client certificate only).
    pub users_created: Vec<String>,
    /// Roles granted to users, as `user: role`.
    pub roles_granted: Vec<String>,
    /// Whether authentication is on now because this call asked for it.
    pub auth_enabled: bool,
}

/// One permission of a role: read, write or both on `key` (one key) or `key..end` (a range).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Perm {
    kind: i32,
    key: Vec<u8>,
    end: Vec<u8>,
}

impl Perm {
    fn new(kind: PermissionType, key: String) -> Self {
        Self { kind: kind as i32, key: key.into_bytes(), end: Vec::new() }
    }

    /// Every key that starts with `prefix` (which ends in `/`).
    fn prefix(kind: PermissionType, prefix: String) -> Self {
        let key = prefix.into_bytes();
        let mut end = key.clone();
        // The range's end is the prefix with its last byte increased: `/certslot/c/` ends
        // before `/certslot/c0`. Cluster names and key layouts are ASCII, so no byte is 0xff.
        if let Some(last) = end.last_mut() {
            *last = last.saturating_add(1);
        }
        Self { kind: kind as i32, key, end }
    }

    fn permission(&self) -> Permission {
        let kind = PermissionType::try_from(self.kind).unwrap_or(PermissionType::Read);
        let permission = Permission::new(kind, self.key.clone());
        if self.end.is_empty() { permission } else { permission.with_range_end(self.end.clone()) }
    }
}

impl core::fmt::Display for Perm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let kind = match PermissionType::try_from(self.kind) {
            Ok(PermissionType::Read) => "read",
            Ok(PermissionType::Write) => "write",
            Ok(PermissionType::Readwrite) => "readwrite",
            Err(_) => "?",
        };
        let key = String::from_utf8_lossy(&self.key);
        match self.end.is_empty() {
            true => write!(f, "{kind} {key}"),
            false => write!(f, "{kind} [{key}, {})", String::from_utf8_lossy(&self.end)),
        }
    }
}

/// The name of a cluster's role `what` (`admin`, `coordinator`, `reader`, `agent:<server>`).
pub fn role_name(cluster: &Cluster, what: &str) -> String {
    format!("certslot:{}:{what}", cluster.name())
}

/// Every role of `plan` with its permissions.
fn roles(cluster: &Cluster, plan: &AccessPlan) -> BTreeMap<String, BTreeSet<Perm>> {
    use PermissionType::{Read, Readwrite};
    let mut roles = BTreeMap::new();
    roles.insert(role_name(cluster, "admin"), BTreeSet::from([Perm::prefix(Readwrite, cluster.prefix())]));
    roles.insert(
        role_name(cluster, "coordinator"),
        BTreeSet::from([
            Perm::prefix(Read, cluster.prefix()),
            Perm::new(Readwrite, cluster.state_key()),
            Perm::prefix(Readwrite, cluster.delivery_key("")),
            Perm::new(Readwrite, cluster.coordinator_key()),
            Perm::prefix(Readwrite, cluster.op_key("")),
            Perm::prefix(Readwrite, cluster.queue_prefix()),
            Perm::prefix(Readwrite, cluster.acme_challenges_prefix()),
        ]),
    );
    roles.insert(role_name(cluster, "reader"), BTreeSet::from([Perm::prefix(Read, cluster.prefix())]));
    roles.insert(
        role_name(cluster, "keyserver"),
        BTreeSet::from([
            Perm::prefix(Read, cluster.prefix()),
            Perm::prefix(Readwrite, cluster.fetches_prefix()),
        ]),
    );
    for server in plan.agents.keys() {
        roles.insert(
            role_name(cluster, &format!("agent:{server}")),
            BTreeSet::from([
                Perm::new(Read, cluster.delivery_key(server)),
                Perm::new(Readwrite, cluster.server_key(server)),
            ]),
        );
    }
    roles
}

/// Sets up etcd's access control for `cluster` as `plan` says (see the module's table), as a
/// user with etcd's `root` role (or anyone while authentication is off). With `enable_auth`,
/// also makes sure the user `root` exists (no password: the client certificate with common
/// name `root`) with the `root` role, and turns authentication on.
///
/// Idempotent: roles are brought to exactly their permissions, users and grants added when
/// missing; users are never deleted, nor roles taken from them.
///
/// # Errors
/// [`EtcdError`]: etcd unreachable, or a refusal (not root: permission denied).
pub async fn setup_access(
    conn: &Connection,
    cluster: &Cluster,
    plan: &AccessPlan,
    enable_auth: bool,
) -> Result<AccessReport, EtcdError> {
    let mut report = AccessReport::default();
    let existing: BTreeSet<String> = conn
        .call("role list", |c| async move { c.client.auth_client().role_list().await })
        .await?
        .roles()
        .iter()
        .cloned()
        .collect();
    for (role, perms) in roles(cluster, plan) {
        let current: BTreeSet<Perm> = if existing.contains(&role) {
            let name = role.clone();
            let got = conn.call("role get", |c| {
                let name = name.clone();
                async move { c.client.auth_client().role_get(name).await }
            });
            got.await?
                .permissions()
                .iter()
                .map(|p| Perm { kind: p.get_type(), key: p.key().to_vec(), end: p.range_end().to_vec() })
                .collect()
        } else {
            let name = role.clone();
            conn.call("role add", |c| {
                let name = name.clone();
                async move { c.client.auth_client().role_add(name).await }
            })
            .await?;
            report.roles_created.push(role.clone());
            BTreeSet::new()
        };
        for extra in current.difference(&perms) {
            let (name, key, end) = (role.clone(), extra.key.clone(), extra.end.clone());
            conn.call("role revoke permission", |c| {
                let (name, key, end) = (name.clone(), key.clone(), end.clone());
                let options = RoleRevokePermissionOptions::new().with_range_end(end);
                async move { c.client.auth_client().role_revoke_permission(name, key, Some(options)).await }
            })
            .await?;
            report.revoked.push(format!("{role}: {extra}"));
        }
        for missing in perms.difference(&current) {
            let (name, permission) = (role.clone(), missing.permission());
            conn.call("role grant permission", |c| {
                let (name, permission) = (name.clone(), permission.clone());
                async move { c.client.auth_client().role_grant_permission(name, permission).await }
            })
            .await?;
            report.granted.push(format!("{role}: {missing}"));
        }
    }
    let mut grants: Vec<(String, String)> = Vec::new();
    for (users, what) in [
        (&plan.admins, "admin"),
        (&plan.coordinators, "coordinator"),
        (&plan.readers, "reader"),
        (&plan.key_servers, "keyserver"),
    ] {
        grants.extend(users.iter().map(|user| (user.clone(), role_name(cluster, what))));
    }
    grants.extend(
        plan.agents
            .iter()
            .map(|(server, user)| (user.clone(), role_name(cluster, &format!("agent:{server}")))),
    );
    let (users_created, roles_granted) = grant_roles(conn, grants).await?;
    report.users_created.extend(users_created);
    report.roles_granted.extend(roles_granted);
    if enable_auth {
        let (users_created, roles_granted) = self::enable_auth(conn).await?;
        report.users_created.extend(users_created);
        report.roles_granted.extend(roles_granted);
        report.auth_enabled = true;
    }
    Ok(report)
}

/// Turns etcd's authentication on, first making sure the user `root` exists (no password: the
/// client certificate with common name `root`) and holds the `root` role, as etcd requires. As a
/// user with the root role, or anyone while authentication is off; etcd answers success when it
/// is on already. The users created and the roles granted (`user: role`).
///
/// # Errors
/// [`EtcdError`]: etcd unreachable, or a refusal.
pub async fn enable_auth(conn: &Connection) -> Result<(Vec<String>, Vec<String>), EtcdError> {
    let (created, granted) = grant_roles(conn, vec![("root".to_owned(), "root".to_owned())]).await?;
    conn.call("auth enable", |c| async move { c.client.auth_client().auth_enable().await }).await?;
    Ok((created, granted))
}

/// Gives each `(user, role)` pair's user the role, creating the user first (without password:
/// its client certificate's common name) when etcd lacks it. The users created and the roles
/// granted (`user: role`); what is there already is left as it is.
async fn grant_roles(
    conn: &Connection,
    grants: Vec<(String, String)>,
) -> Result<(Vec<String>, Vec<String>), EtcdError> {
    let (mut created, mut granted) = (Vec::new(), Vec::new());
    let users: BTreeSet<String> = conn
        .call("user list", |c| async move { c.client.auth_client().user_list().await })
        .await?
        .users()
        .iter()
        .cloned()
        .collect();
    let mut held: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (user, role) in grants {
        if !users.contains(&user) && !held.contains_key(&user) {
            let name = user.clone();
            conn.call("user add", |c| {
                let name = name.clone();
                async move {
                    c.client.auth_client().user_add(name, "", Some(UserAddOptions::new().with_no_pwd())).await
                }
            })
            .await?;
            created.push(user.clone());
            held.insert(user.clone(), BTreeSet::new());
        }
        if !held.contains_key(&user) {
            let name = user.clone();
            let roles = conn
                .call("user get", |c| {
                    let name = name.clone();
                    async move { c.client.auth_client().user_get(name).await }
                })
                .await?;
            held.insert(user.clone(), roles.roles().iter().cloned().collect());
        }
        let roles = held.entry(user.clone()).or_default();
        if roles.insert(role.clone()) {
            let (name, role_to_grant) = (user.clone(), role.clone());
            conn.call("user grant role", |c| {
                let (name, role_to_grant) = (name.clone(), role_to_grant.clone());
                async move { c.client.auth_client().user_grant_role(name, role_to_grant).await }
            })
            .await?;
            granted.push(format!("{user}: {role}"));
        }
    }
    Ok((created, granted))
}
