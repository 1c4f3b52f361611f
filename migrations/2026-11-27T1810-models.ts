import { sql, type Kysely } from 'kysely';

/** Model registry: versions with lineage, activations, artifacts and output embeddings. */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table models (
      id uuid primary key default gen_random_uuid(),
      domain_id integer not null references domains(id) on delete cascade,
      version integer not null,
      parent_model_id uuid references models(id) on delete set null,
      kind text not null check (kind in ('PRETRAIN', 'TRANSFER', 'BASELINE')),
      strategy text check (strategy in ('FEATURE_EXTRACTION', 'PARTIAL', 'FULL')),
      status text not null check (status in ('TRAINING', 'READY', 'FAILED', 'ACTIVE', 'RETIRED')),
      config jsonb not null default '{}',
      metrics jsonb not null default '{}',
      transfer_report jsonb,
      negative_transfer boolean not null default false,
      backend text,
      device text,
      job_id uuid,
      error text,
      created_at timestamptz not null default now(),
      ready_at timestamptz,
      unique (domain_id, version)
    )`.execute(db);
  await sql`create index models_parent on models (parent_model_id)`.execute(db);
  // At most one ACTIVE model per domain, enforced by the database, not by care.
  await sql`create unique index models_one_active on models (domain_id) where status = 'ACTIVE'`.execute(db);
  await sql`
    alter table domains add constraint domains_active_model
      foreign key (active_model_id) references models(id) on delete set null`.execute(db);
  await sql`
    create table model_activations (
      id integer generated always as identity primary key,
      domain_id integer not null references domains(id) on delete cascade,
      model_id uuid not null references models(id) on delete cascade,
      previous_model_id uuid references models(id) on delete set null,
      forced boolean not null default false,
      activated_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index model_activations_domain on model_activations (domain_id, id desc)`.execute(db);
  await sql`
    create table model_artifacts (
      id integer generated always as identity primary key,
      model_id uuid not null references models(id) on delete cascade,
      name text not null,
      kind text not null check (kind in ('dense', 'table', 'index', 'vocabulary', 'meta')),
      dtype text not null,
      shape integer[] not null,
      data bytea not null,
      created_at timestamptz not null default now(),
      unique (model_id, name)
    )`.execute(db);
  await sql`
    create table embeddings (
      model_id uuid not null references models(id) on delete cascade,
      entity_kind text not null check (entity_kind in ('USER', 'ITEM')),
      entity_id integer not null,
      vector real[] not null,
      primary key (model_id, entity_kind, entity_id)
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table embeddings`.execute(db);
  await sql`drop table model_artifacts`.execute(db);
  await sql`drop table model_activations`.execute(db);
  await sql`alter table domains drop constraint domains_active_model`.execute(db);
  await sql`drop table models`.execute(db);
}
