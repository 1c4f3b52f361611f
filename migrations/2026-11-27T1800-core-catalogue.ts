import { sql, type Kysely } from 'kysely';

/** Domains, global users, per-domain items, the behaviour log and its imports. */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table domains (
      id integer generated always as identity primary key,
      name text not null unique check (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
      description text,
      active_model_id uuid,
      created_at timestamptz not null default now()
    )`.execute(db);
  await sql`
    create table users (
      id integer generated always as identity primary key,
      external_id text not null unique check (external_id <> ''),
      created_at timestamptz not null default now()
    )`.execute(db);
  await sql`
    create table items (
      id integer generated always as identity primary key,
      domain_id integer not null references domains(id) on delete cascade,
      external_id text not null check (external_id <> ''),
      title text,
      tags text[] not null default '{}',
      features jsonb not null default '{}',
      created_at timestamptz not null default now(),
      unique (domain_id, external_id)
    )`.execute(db);
  await sql`
    create table imports (
      id integer generated always as identity primary key,
      domain_id integer not null references domains(id) on delete cascade,
      target text not null check (target in ('events', 'items')),
      file_name text not null,
      file_hash text not null,
      rows integer not null,
      users_created integer not null default 0,
      items_created integer not null default 0,
      created_at timestamptz not null default now(),
      unique (domain_id, target, file_hash)
    )`.execute(db);
  // The log. No foreign keys from events on purpose: on Citus, events is distributed by
  // user_id while users/items are reference tables; the importer guarantees the links.
  // No primary key or import index either: nothing looks an event up by id, and every
  // index on the log costs the importer (1M events: ~10 s of index maintenance with four
  // indexes); the two below serve every read Graft makes.
  await sql`
    create table events (
      id bigint generated always as identity,
      user_id integer not null,
      item_id integer not null,
      domain_id integer not null,
      kind text not null check (kind in ('view', 'click', 'purchase', 'rating')),
      weight real not null default 1,
      occurred_at timestamptz not null,
      import_id integer
    )`.execute(db);
  // Reading a domain in time order (dataset reader) and one user's history (serving).
  await sql`create index events_domain_time on events (domain_id, occurred_at, id)`.execute(db);
  await sql`create index events_user_domain_time on events (user_id, domain_id, occurred_at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table events`.execute(db);
  await sql`drop table imports`.execute(db);
  await sql`drop table items`.execute(db);
  await sql`drop table users`.execute(db);
  await sql`drop table domains`.execute(db);
}
