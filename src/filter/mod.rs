//! OneRoster query parameters — `filter`, `sort`, `fields` — parsed into typed values.
//! Pure: no SQL (the SQL translation lives in `storage::sql_filter`).
