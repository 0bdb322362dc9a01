//! `/ui/upload`: a bundle chosen or dropped, its encoding and the dry-run switch. The page's
//! script sends it to the admin API (`POST /api/v1/imports`) with a progress bar for the bytes,
//! then follows the job's events (`/api/v1/jobs/{id}/events`) and shows the import's page
//! fragment when it ends — no reload. Uploaders and admins only.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::chrome::{Chrome, Member};
use crate::http::admin::error::AdminError;

#[derive(Template)]
#[template(path = "pages/upload.html")]
struct UploadPage {
    c: Chrome,
}

pub async fn form(member: Member) -> Response {
    if !member.can_upload() {
        let e = AdminError::new(StatusCode::FORBIDDEN, "read_only", "a viewer may only read");
        return member.visit.error_page(&e);
    }
    let page = UploadPage {
        c: member.chrome("upload.title", "upload"),
    };
    member.visit.html(StatusCode::OK, page.render())
}
