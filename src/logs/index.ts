/** Behaviour-log and catalogue import: library API (the CLI's `graft import` is a thin adapter). */
export type { EventRecord, ItemRecord } from './event-record.js';
export type { ImportProgress, IngestOptions } from './ingest-options.js';
export type { ImportSummary } from './import-summary.js';
export { ingestEvents } from './ingest-events.js';
export { ingestItems } from './ingest-items.js';
export { importEventsFile, importItemsFile, type EventsFileImportOptions, type FileImportOptions } from './file-import.js';
export { formatFromPath, FILE_FORMATS, type FileFormat } from './line-parser.js';
export { EVENT_COLUMNS, ITEM_COLUMNS, DEFAULT_EVENT_COLUMNS, DEFAULT_ITEM_COLUMNS } from './column-spec.js';
export { EVENTS_CHANNEL, notifyEventsRecorded, parseEventsNotification, type EventsNotification } from './events-notification.js';
export { recordEvents, MAX_RECORDED_EVENTS, type RecordedEvent } from './record-events.js';
export { findUsersByExternalIds, recentHistories, listDomains, type CatalogueUser, type HistoryEntry } from './catalogue-repository.js';
export { findItemsByRowIds, findItemsByExternalIds, itemKey, readCatalogueRows, readItemPage, readItemTags, itemExists, type CatalogueItem } from './item-repository.js';
