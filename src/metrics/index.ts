/** The Prometheus exporter: exposition writer, the MetricsSource view, its source over the table mirror, the HTTP server. */
export { ExpositionWriter, ExpositionError, negotiate, escapeLabelValue, formatValue, CONTENT_TYPE, type ExpositionFormat, type FamilySpec, type Labels, type MetricType } from './exposition.js';
export { DIAGNOSES, type Diagnosis, type MetricsSource, type GroupCounts, type TopEntry, type KernelSample, type EventCounts } from './source.js';
export { renderMetrics, type RenderOptions } from './render.js';
export { TableSource, diagnosisLabels, type TableSourceOptions } from './table-source.js';
export { MetricsServer, type MetricsServerOptions } from './server.js';
