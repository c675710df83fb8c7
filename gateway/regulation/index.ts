export { Regulator } from './regulator.ts';
export type { AttemptRecord, BanState, RegulationStore } from './regulator.ts';
export { validateRegulation } from './options.ts';
export type { RegulationMode, RegulationOptions } from './options.ts';
export { normaliseUsername, normaliseIp } from './subjects.ts';
