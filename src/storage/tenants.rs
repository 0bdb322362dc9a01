//! Per-tenant settings on the `tenants` row: the default national model (`default_target`).

use super::clients::sql::{exec, fetch};
use super::{Store, StoreError};

impl Store {
    /// The tenant's default target (`eportal-4`, …), if one is set.
    pub async fn tenant_target(&self, tenant: &str) -> Result<Option<String>, StoreError> {
        let rows = fetch(
            self,
            "SELECT default_target FROM tenants WHERE id = $1",
            vec![tenant.into()],
        )
        .await?;
        match rows.first() {
            Some(r) => r.opt_text(0),
            None => Ok(None),
        }
    }

    /// Sets (or with `None` clears) the tenant's default target; false if there is no such
    /// tenant. The caller checks the name.
    pub async fn set_tenant_target(
        &self,
        tenant: &str,
        target: Option<&str>,
    ) -> Result<bool, StoreError> {
        let changed = exec(
            self,
            "UPDATE tenants SET default_target = $1 WHERE id = $2",
            vec![target.into(), tenant.into()],
        )
        .await?;
        Ok(changed > 0)
    }
}
