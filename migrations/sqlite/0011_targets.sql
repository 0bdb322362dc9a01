-- A tenant's default national model (docs/national-models.md): `eportal-4`, … or NULL. Imports
-- into the tenant are held to it when they name no target of their own.
ALTER TABLE tenants ADD COLUMN default_target TEXT;

-- An API client bound to a national model: the OneRoster JSON it reads follows the model's
-- conversions (full-width katakana in names and titles). NULL: the data as stored.
ALTER TABLE api_clients ADD COLUMN target TEXT;
