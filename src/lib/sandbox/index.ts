/** The sandbox: scenarios written through the ports, and the simulated phase services. */

export * from './faults.js';
export * from './init.js';
export * from './output.js';
export { buildRoster, toLookup, TEAMS, type Player } from './roster.js';
export * from './scenarios.js';
