-- SCIM filters on emails (`emails.value eq "..."`, Entra's
-- `emails[type eq "work"].value eq "..."`) compare in lower case: this
-- index makes them a look-up rather than a scan of every user.
CREATE INDEX index_users_on_lower_email_address ON users (lower(email_address));
