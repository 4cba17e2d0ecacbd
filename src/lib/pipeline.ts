/**
 * The pipeline's built-in shape: which processors each phase runs, where their output lands,
 * and the default names of the shared documents, tables and topics. Every name can be
 * overridden from pipectl.config.json; these defaults make a working `local` profile.
 */

export interface ProcessorDef {
  name: string;
  /** `dataset.table` the processor writes. */
  table: string;
  /** Column that identifies the entity (player or team) in that table. */
  entityColumn: string;
  /** Phase 4 runs in levels; a processor starts when every lower level is done. */
  level?: number;
}

const raw = (name: string, table: string, entityColumn = 'player_lookup'): ProcessorDef => ({
  name,
  table: `nba_raw.${table}`,
  entityColumn,
});

export const DEFAULT_PHASE2: ProcessorDef[] = [
  raw('NbacGamebookProcessor', 'nbac_gamebook_player_stats'),
  raw('NbacPlayerBoxscoreProcessor', 'nbac_player_boxscores'),
  raw('NbacTeamBoxscoreProcessor', 'nbac_team_boxscore', 'team_abbr'),
  raw('NbacScheduleProcessor', 'nbac_schedule', 'team_abbr'),
  raw('NbacInjuryReportProcessor', 'nbac_injury_report'),
  raw('NbacPlayerListProcessor', 'nbac_player_list_current'),
  raw('NbacPlayByPlayProcessor', 'nbac_play_by_play'),
  raw('NbacRefereeProcessor', 'nbac_referee_game_assignments', 'team_abbr'),
  raw('NbacPlayerMovementProcessor', 'nbac_player_movement'),
  raw('BdlBoxscoresProcessor', 'bdl_player_boxscores'),
  raw('BdlActivePlayersProcessor', 'bdl_active_players_current'),
  raw('BdlInjuriesProcessor', 'bdl_injuries'),
  raw('BdlStandingsProcessor', 'bdl_standings', 'team_abbr'),
  raw('EspnBoxscoreProcessor', 'espn_boxscores'),
  raw('EspnTeamRosterProcessor', 'espn_team_rosters'),
  raw('EspnScoreboardProcessor', 'espn_scoreboard', 'team_abbr'),
  raw('OddsApiPropsProcessor', 'odds_api_player_points_props'),
  raw('OddsApiGameLinesProcessor', 'odds_api_game_lines', 'team_abbr'),
  raw('BettingProsPlayerPropsProcessor', 'bettingpros_player_points_props'),
  raw('BigDataBallPbpProcessor', 'bigdataball_play_by_play'),
  raw('BasketballRefRosterProcessor', 'br_rosters_current'),
];

export const DEFAULT_PHASE3: ProcessorDef[] = [
  {
    name: 'PlayerGameSummaryProcessor',
    table: 'nba_analytics.player_game_summary',
    entityColumn: 'player_lookup',
  },
  {
    name: 'TeamOffenseGameSummaryProcessor',
    table: 'nba_analytics.team_offense_game_summary',
    entityColumn: 'team_abbr',
  },
  {
    name: 'TeamDefenseGameSummaryProcessor',
    table: 'nba_analytics.team_defense_game_summary',
    entityColumn: 'team_abbr',
  },
  {
    name: 'UpcomingPlayerGameContextProcessor',
    table: 'nba_analytics.upcoming_player_game_context',
    entityColumn: 'player_lookup',
  },
  {
    name: 'UpcomingTeamGameContextProcessor',
    table: 'nba_analytics.upcoming_team_game_context',
    entityColumn: 'team_abbr',
  },
];

export const DEFAULT_PHASE4: ProcessorDef[] = [
  {
    name: 'TeamDefenseZoneAnalysisProcessor',
    table: 'nba_precompute.team_defense_zone_analysis',
    entityColumn: 'team_abbr',
    level: 1,
  },
  {
    name: 'PlayerShotZoneAnalysisProcessor',
    table: 'nba_precompute.player_shot_zone_analysis',
    entityColumn: 'player_lookup',
    level: 1,
  },
  {
    name: 'PlayerDailyCacheProcessor',
    table: 'nba_precompute.player_daily_cache',
    entityColumn: 'player_lookup',
    level: 2,
  },
  {
    name: 'PlayerCompositeFactorsProcessor',
    table: 'nba_precompute.player_composite_factors',
    entityColumn: 'player_lookup',
    level: 2,
  },
  {
    name: 'MLFeatureStoreProcessor',
    table: 'nba_predictions.ml_feature_store_v2',
    entityColumn: 'player_lookup',
    level: 3,
  },
];

export const DEFAULT_COLLECTIONS = {
  phase2Completion: 'phase2_completion',
  phase3Completion: 'phase3_completion',
  phase4Completion: 'phase4_completion',
  predictions: 'predictions',
  republished: 'republished',
  coordinatorLock: 'coordinator_lock',
  /** A short claim per phase and date taken by `phase run`: two operators cannot both trigger. */
  phaseTriggers: 'phase_triggers',
  opsAudit: 'ops_audit',
};

export const DEFAULT_TABLES = {
  runHistory: 'nba_reference.processor_run_history',
  featureStore: 'nba_predictions.ml_feature_store_v2',
  predictions: 'nba_predictions.player_prop_predictions',
};

export const DEFAULT_TOPICS = {
  phase2Complete: 'phase2-complete',
  phase3Complete: 'phase3-complete',
  phase4Complete: 'phase4-complete',
  phase2Trigger: 'phase2-trigger',
  phase3Trigger: 'phase3-trigger',
  phase4Trigger: 'phase4-trigger',
  phase5Trigger: 'phase5-trigger',
  predictionRequest: 'prediction-request',
  predictionComplete: 'prediction-complete',
};

/** Phases that have an orchestrator gate: the gate of phase N triggers phase N + 1. */
export const GATED_PHASES = [2, 3, 4] as const;
export type GatedPhase = (typeof GATED_PHASES)[number];

/** Phases that `phase run` can trigger. */
export const RUNNABLE_PHASES = [2, 3, 4, 5] as const;
export type RunnablePhase = (typeof RUNNABLE_PHASES)[number];
