import { sql, type Kysely } from 'kysely';

/** Training / transfer jobs with their progress events, and API keys. */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table jobs (
      id uuid primary key default gen_random_uuid(),
      kind text not null check (kind in ('PRETRAIN', 'TRANSFER')),
      status text not null check (status in ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
      input jsonb not null,
      idempotency_key text unique,
      device_requested text not null default 'AUTO' check (device_requested in ('AUTO', 'CPU', 'GPU')),
      device text,
      backend text,
      progress jsonb,
      metrics jsonb,
      transfer_report jsonb,
      error text,
      model_id uuid references models(id) on delete set null,
      attempts integer not null default 0,
      max_attempts integer not null default 2,
      worker_id text,
      heartbeat_at timestamptz,
      cancel_requested_at timestamptz,
      created_at timestamptz not null default now(),
      started_at timestamptz,
      finished_at timestamptz
    )`.execute(db);
  await sql`create index jobs_status_created on jobs (status, created_at)`.execute(db);
  await sql`
    create table job_events (
      id bigint generated always as identity primary key,
      job_id uuid not null references jobs(id) on delete cascade,
      kind text not null,
      payload jsonb not null default '{}',
      created_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index job_events_job on job_events (job_id, id)`.execute(db);
  await sql`
    create table api_keys (
      id integer generated always as identity primary key,
      name text not null,
      role text not null check (role in ('APP', 'ANALYST', 'ADMIN')),
      key_hash text not null unique,
      prefix text not null,
      created_at timestamptz not null default now(),
      last_used_at timestamptz,
      revoked_at timestamptz
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table api_keys`.execute(db);
  await sql`drop table job_events`.execute(db);
  await sql`drop table jobs`.execute(db);
}
