/**
 * The sandbox's league: 30 teams and a deterministic roster of players. Lookups follow the
 * pipeline's convention (first and last name run together, lower case: `lebronjames`), and a
 * few keep an apostrophe or a non-ASCII letter (`de'aaronfox`, `nikolajokić`) so that every
 * query that handles player ids is exercised with values that would break spliced SQL.
 */

import { stream } from './random.js';

export const TEAMS = [
  'ATL', 'BOS', 'BKN', 'CHA', 'CHI', 'CLE', 'DAL', 'DEN', 'DET', 'GSW',
  'HOU', 'IND', 'LAC', 'LAL', 'MEM', 'MIA', 'MIL', 'MIN', 'NOP', 'NYK',
  'OKC', 'ORL', 'PHI', 'PHX', 'POR', 'SAC', 'SAS', 'TOR', 'UTA', 'WAS',
] as const; // prettier-ignore

export interface Player {
  lookup: string;
  name: string;
  team: string;
  /** Points per game around which this player's stats and predictions vary. */
  scoring: number;
}

/** Always first on the roster, so every sandbox has the awkward ids. */
const FEATURED = [
  'LeBron James',
  "De'Aaron Fox",
  'Nikola Jokić',
  'Luka Dončić',
  "D'Angelo Russell",
  'Kristaps Porziņģis',
  "Royce O'Neale",
  'Dennis Schröder',
  'Bogdan Bogdanović',
  'Jusuf Nurkić',
  "Kyle O'Quinn",
  'Dāvis Bertāns',
];

const FIRST = [
  'Aaron', 'Andre', 'Anthony', 'Bam', 'Ben', 'Bradley', 'Brandon', 'Cade', 'Cam', 'Chris',
  'Damian', 'Darius', 'Devin', 'Donovan', 'Draymond', 'Evan', 'Franz', 'Fred', 'Gary', 'Grant',
  'Immanuel', 'Isaiah', 'Jalen', 'Jamal', 'Jaren', 'Jaylen', 'Jimmy', 'Joel', 'Jordan', 'Josh',
  'Jrue', 'Julius', 'Karl', 'Kawhi', 'Kevin', 'Khris', 'Kyle', 'Lauri', 'Malik', 'Marcus',
  'Mikal', 'Myles', 'Naz', 'Norman', 'OG', 'Paolo', 'Pascal', 'Paul', 'RJ', 'Scottie',
  'Shai', 'Stephen', 'Terry', 'Tobias', 'Trae', 'Tyler', 'Tyrese', 'Victor', 'Zach', 'Zion',
  'Álex', 'Théo', 'Goga', 'Dario', 'Nikola', 'Bojan', 'Jonas', 'Domantas', 'Rui', 'Yuta',
]; // prettier-ignore

const LAST = [
  'Adams', 'Allen', 'Anderson', 'Barnes', 'Bridges', 'Brooks', 'Brown', 'Carter', 'Clarke',
  'Collins', 'Davis', 'Edwards', 'Ellis', 'Fox', 'Gordon', 'Green', 'Harris', 'Hart', 'Hayes',
  'Holiday', 'Hunter', 'Jackson', 'Johnson', 'Jones', 'King', 'Lewis', 'Lopez', 'Martin',
  'Miller', 'Mitchell', 'Moore', 'Murray', 'Nance', 'Parker', 'Porter', 'Powell', 'Reed',
  'Robinson', 'Ross', 'Smith', 'Taylor', 'Thomas', 'Thompson', 'Turner', 'Walker', 'Washington',
  'White', 'Williams', 'Wilson', 'Young', "O'Brien", 'Šarić', 'Vučević', 'Gafford', 'Ñúñez',
]; // prettier-ignore

/**
 * `LeBron James` → `lebronjames`. Letters keep their accents and apostrophes stay: the ids are
 * data, and the sandbox wants them to be awkward data.
 */
export function toLookup(name: string): string {
  return name.toLowerCase().replace(/[\s.\-]/g, '');
}

/** The same seed and size always give the same players, teams and scoring levels. */
export function buildRoster(seed: number, size: number): Player[] {
  const random = stream(seed, 'roster');
  const players: Player[] = [];
  const taken = new Set<string>();
  const add = (name: string) => {
    let lookup = toLookup(name);
    for (let n = 2; taken.has(lookup); n++) lookup = `${toLookup(name)}${n}`;
    taken.add(lookup);
    const team = TEAMS[players.length % TEAMS.length]!;
    const scoring = Math.round(Math.max(2, random.normal(13, 6)) * 10) / 10;
    players.push({ lookup, name, team, scoring });
  };

  for (const name of FEATURED.slice(0, size)) add(name);
  while (players.length < size) add(`${random.pick(FIRST)} ${random.pick(LAST)}`);
  return players;
}
