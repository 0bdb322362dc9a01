//! The OneRoster 1.2 rostering API: all 41 read operations under
//! `/ims/oneroster/rostering/v1p2` (ONEROSTER.md §3.2–§3.6).

pub mod cache;
pub(crate) mod handler;
pub mod params;
mod target;
pub mod wire;

use axum::Router;
use axum::routing::get;

use crate::domain::Entity;
use crate::http::AppState;
use crate::storage::select::{Selection, TERM_TYPES};
use handler::{Need, Spec, collection, single};

/// Where the rostering API is mounted (defined in `crate::web`, which the audit log shares).
pub use crate::web::ONEROSTER_BASE_PATH as BASE_PATH;

const SESSIONS: Entity = Entity::AcademicSessions;
const SCHOOL: Selection = Selection::OrgsOfType("school");
const TERM: Selection = Selection::SessionsOfTypes(TERM_TYPES);

/// Every route of the rostering service. Each reads like the endpoint list of §3.2.
pub fn routes() -> Router<AppState> {
    use Entity::*;
    use Need::{Core, Demographics as Demo};
    Router::new()
        .route(
            "/academicSessions",
            get(collection(|_| {
                Spec::all(SESSIONS, "academicSessions", Core, Selection::All)
            })),
        )
        .route(
            "/academicSessions/{id}",
            get(single(SESSIONS, "academicSession", Core, Selection::All)),
        )
        .route(
            "/classes",
            get(collection(|_| {
                Spec::all(Classes, "classes", Core, Selection::All)
            })),
        )
        .route(
            "/classes/{id}",
            get(single(Classes, "class", Core, Selection::All)),
        )
        .route(
            "/classes/{id}/students",
            get(collection(|ids| {
                Spec::related(
                    Users,
                    "users",
                    (Classes, Selection::All),
                    &ids[0],
                    Selection::UsersInClass {
                        class: ids[0].clone(),
                        role: "student",
                        school: None,
                    },
                )
            })),
        )
        .route(
            "/classes/{id}/teachers",
            get(collection(|ids| {
                Spec::related(
                    Users,
                    "users",
                    (Classes, Selection::All),
                    &ids[0],
                    Selection::UsersInClass {
                        class: ids[0].clone(),
                        role: "teacher",
                        school: None,
                    },
                )
            })),
        )
        .route(
            "/courses",
            get(collection(|_| {
                Spec::all(Courses, "courses", Core, Selection::All)
            })),
        )
        .route(
            "/courses/{id}",
            get(single(Courses, "course", Core, Selection::All)),
        )
        .route(
            "/courses/{id}/classes",
            get(collection(|ids| {
                Spec::related(
                    Classes,
                    "classes",
                    (Courses, Selection::All),
                    &ids[0],
                    Selection::Eq("course_sourced_id", ids[0].clone()),
                )
            })),
        )
        .route(
            "/demographics",
            get(collection(|_| {
                Spec::all(Demographics, "demographics", Demo, Selection::All)
            })),
        )
        .route(
            "/demographics/{id}",
            get(single(Demographics, "demographics", Demo, Selection::All)),
        )
        .route(
            "/enrollments",
            get(collection(|_| {
                Spec::all(Enrollments, "enrollments", Core, Selection::All)
            })),
        )
        .route(
            "/enrollments/{id}",
            get(single(Enrollments, "enrollment", Core, Selection::All)),
        )
        .route(
            "/gradingPeriods",
            get(collection(|_| {
                Spec::all(
                    SESSIONS,
                    "academicSessions",
                    Core,
                    Selection::SessionsOfTypes(&["gradingPeriod"]),
                )
            })),
        )
        .route(
            "/gradingPeriods/{id}",
            get(single(
                SESSIONS,
                "academicSession",
                Core,
                Selection::SessionsOfTypes(&["gradingPeriod"]),
            )),
        )
        .route(
            "/orgs",
            get(collection(|_| {
                Spec::all(Orgs, "orgs", Core, Selection::All)
            })),
        )
        .route("/orgs/{id}", get(single(Orgs, "org", Core, Selection::All)))
        .route(
            "/schools",
            get(collection(|_| Spec::all(Orgs, "orgs", Core, SCHOOL))),
        )
        .route("/schools/{id}", get(single(Orgs, "org", Core, SCHOOL)))
        .route(
            "/schools/{id}/classes",
            get(collection(|ids| {
                Spec::related(
                    Classes,
                    "classes",
                    (Orgs, SCHOOL),
                    &ids[0],
                    Selection::Eq("school_sourced_id", ids[0].clone()),
                )
            })),
        )
        .route(
            "/schools/{id}/courses",
            get(collection(|ids| {
                Spec::related(
                    Courses,
                    "courses",
                    (Orgs, SCHOOL),
                    &ids[0],
                    Selection::Eq("org_sourced_id", ids[0].clone()),
                )
            })),
        )
        .route(
            "/schools/{id}/enrollments",
            get(collection(|ids| {
                Spec::related(
                    Enrollments,
                    "enrollments",
                    (Orgs, SCHOOL),
                    &ids[0],
                    Selection::Eq("school_sourced_id", ids[0].clone()),
                )
            })),
        )
        .route(
            "/schools/{id}/students",
            get(collection(|ids| {
                Spec::related(
                    Users,
                    "users",
                    (Orgs, SCHOOL),
                    &ids[0],
                    Selection::UsersAtOrg {
                        org: ids[0].clone(),
                        role: "student",
                    },
                )
            })),
        )
        .route(
            "/schools/{id}/teachers",
            get(collection(|ids| {
                Spec::related(
                    Users,
                    "users",
                    (Orgs, SCHOOL),
                    &ids[0],
                    Selection::UsersAtOrg {
                        org: ids[0].clone(),
                        role: "teacher",
                    },
                )
            })),
        )
        .route(
            "/schools/{id}/terms",
            get(collection(|ids| {
                Spec::related(
                    SESSIONS,
                    "academicSessions",
                    (Orgs, SCHOOL),
                    &ids[0],
                    Selection::TermsOfSchool(ids[0].clone()),
                )
            })),
        )
        .route(
            "/schools/{id}/classes/{class}/enrollments",
            get(collection(|ids| {
                Spec::related2(
                    Enrollments,
                    "enrollments",
                    ids,
                    Selection::Eq2(
                        "school_sourced_id",
                        ids[0].clone(),
                        "class_sourced_id",
                        ids[1].clone(),
                    ),
                )
            })),
        )
        .route(
            "/schools/{id}/classes/{class}/students",
            get(collection(|ids| {
                Spec::related2(
                    Users,
                    "users",
                    ids,
                    Selection::UsersInClass {
                        class: ids[1].clone(),
                        role: "student",
                        school: Some(ids[0].clone()),
                    },
                )
            })),
        )
        .route(
            "/schools/{id}/classes/{class}/teachers",
            get(collection(|ids| {
                Spec::related2(
                    Users,
                    "users",
                    ids,
                    Selection::UsersInClass {
                        class: ids[1].clone(),
                        role: "teacher",
                        school: Some(ids[0].clone()),
                    },
                )
            })),
        )
        .route(
            "/students",
            get(collection(|_| {
                Spec::all(Users, "users", Core, Selection::UsersWithRole("student"))
            })),
        )
        .route(
            "/students/{id}",
            get(single(
                Users,
                "user",
                Core,
                Selection::UsersWithRole("student"),
            )),
        )
        .route(
            "/students/{id}/classes",
            get(collection(|ids| {
                Spec::related(
                    Classes,
                    "classes",
                    (Users, Selection::UsersWithRole("student")),
                    &ids[0],
                    Selection::ClassesOfUser {
                        user: ids[0].clone(),
                        role: Some("student"),
                    },
                )
            })),
        )
        .route(
            "/teachers",
            get(collection(|_| {
                Spec::all(Users, "users", Core, Selection::UsersWithRole("teacher"))
            })),
        )
        .route(
            "/teachers/{id}",
            get(single(
                Users,
                "user",
                Core,
                Selection::UsersWithRole("teacher"),
            )),
        )
        .route(
            "/teachers/{id}/classes",
            get(collection(|ids| {
                Spec::related(
                    Classes,
                    "classes",
                    (Users, Selection::UsersWithRole("teacher")),
                    &ids[0],
                    Selection::ClassesOfUser {
                        user: ids[0].clone(),
                        role: Some("teacher"),
                    },
                )
            })),
        )
        .route(
            "/terms",
            get(collection(|_| {
                Spec::all(SESSIONS, "academicSessions", Core, TERM)
            })),
        )
        .route(
            "/terms/{id}",
            get(single(SESSIONS, "academicSession", Core, TERM)),
        )
        .route(
            "/terms/{id}/classes",
            get(collection(|ids| {
                Spec::related(
                    Classes,
                    "classes",
                    (SESSIONS, TERM),
                    &ids[0],
                    Selection::ClassesOfTerm(ids[0].clone()),
                )
            })),
        )
        .route(
            "/terms/{id}/gradingPeriods",
            get(collection(|ids| {
                Spec::related(
                    SESSIONS,
                    "academicSessions",
                    (SESSIONS, TERM),
                    &ids[0],
                    Selection::GradingPeriodsOfTerm(ids[0].clone()),
                )
            })),
        )
        .route(
            "/users",
            get(collection(|_| {
                Spec::all(Users, "users", Core, Selection::All)
            })),
        )
        .route(
            "/users/{id}",
            get(single(Users, "user", Core, Selection::All)),
        )
        .route(
            "/users/{id}/classes",
            get(collection(|ids| {
                Spec::related(
                    Classes,
                    "classes",
                    (Users, Selection::All),
                    &ids[0],
                    Selection::ClassesOfUser {
                        user: ids[0].clone(),
                        role: None,
                    },
                )
            })),
        )
}
