-- The serving database's roles and GRANTs, in one place. Every caller reads its section from this file:
-- services/postgres.sh (the local cluster, as postgres), services/docker-postgres-init.sh (docker-compose's
-- postgres image, on an empty volume), serving.roles (tests, bench: Python, as the writer) and serving.publish
-- (after each swap). Written for psql: :"name" is an identifier, :'name' a literal, each given with -v
-- name=value; serving.roles substitutes the same way. A section runs from its `-- [name]` line to the next.
--
-- Variables: writer, reader (role names), db (the serving database), writer_password, reader_password,
-- reader_idle_timeout (e.g. 5s); table (one serving table, as a plain name: :table is put in as it is).

-- [roles] the writer (owns the serving tables, publishes) and the read-only role (the API); idempotent, the
-- passwords re-applied every time. psql only (\gexec).
select format('create role %I login', :'writer') where not exists (select from pg_roles where rolname = :'writer')
\gexec
select format('create role %I login', :'reader') where not exists (select from pg_roles where rolname = :'reader')
\gexec
alter role :"writer" with login createdb password :'writer_password';
alter role :"reader" with login nocreatedb password :'reader_password';
-- A reader idle inside a transaction would hold publish's swap (and every reader queued behind it): end it.
alter role :"reader" set idle_in_transaction_session_timeout = :'reader_idle_timeout';

-- [databases] the serving database and Airflow's metadata database, owned by the writer; idempotent. psql only.
select format('create database %I owner %I', :'db', :'writer') where not exists (select from pg_database where datname = :'db')
\gexec
select format('create database %I owner %I', 'airflow', :'writer') where not exists (select from pg_database where datname = 'airflow')
\gexec

-- [reader_privileges] on the serving database: the read-only role reads every table the writer creates in
-- `public`, now and later; nobody but the owner creates tables there.
revoke create on schema public from public;
grant connect on database :"db" to :"reader";
grant usage on schema public to :"reader";
grant select on all tables in schema public to :"reader";
alter default privileges for role :"writer" in schema public grant select on tables to :"reader";

-- [table_grant] one serving table, after publish swapped it in (default privileges already cover new tables;
-- granting again makes the read access explicit whoever created the table).
grant select on :table to :"reader";
