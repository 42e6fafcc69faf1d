/**
 * The four scenario teams: a lead agent (the persona plus a brief) and three named specialists, each with its
 * own system prompt. The lead consults the specialists as tools and writes the answer; a provider without tool
 * calling gets the single-model brief instead (one model playing every part, labelled as such).
 */
import type { ToolDef } from '../providers/types.ts';

export interface Specialist {
  name: string;
  /** What the lead is told the specialist is for. */
  role: string;
  /** The specialist's own system prompt; it sees nothing but this and the lead's request. */
  prompt: string;
}

export interface ScenarioTeam {
  type: string;
  /** For the lead when agents run. */
  leadBrief: string;
  /** For one model playing every part. */
  singleBrief: string;
  specialists: Specialist[];
}

const team = (type: string, scene: string, singleBrief: string, specialists: Specialist[]): ScenarioTeam => ({
  type,
  singleBrief,
  specialists,
  leadBrief: [
    `Scenario: ${scene}`,
    'You lead a team of specialists. Consult them with the ask_<name> tools; ask several at once when their parts are independent, and give each a self-contained request (they see nothing else).',
    'Then write the final answer yourself, in one voice, weaving in what they contributed. Do not mention the tools.',
    'Specialists:',
    ...specialists.map((s) => `- ${s.name}: ${s.role}`),
  ].join('\n'),
});

export const TEAMS: Record<string, ScenarioTeam> = {
  gamemaster: team(
    'gamemaster',
    'you are the game master of a lively fantasy tavern scene, answering the player.',
    'Scenario: you are the game master of a lively fantasy tavern. Voice the NPCs the player meets (the innkeeper, travellers, a bard), each with a distinct manner, and narrate what happens around them. Keep the scene moving and end with something the player can react to.',
    [
      {
        name: 'npc_voice',
        role: 'speaks as the non-player characters (dialogue in character)',
        prompt:
          "You voice the non-player characters of a fantasy tavern scene. Given the game master's request, answer only with what the named characters say and do, each with a distinct manner of speech. Keep it short and vivid.",
      },
      {
        name: 'rules_arbiter',
        role: 'decides what the rules say about an action (checks, difficulty, outcome)',
        prompt:
          'You are the rules arbiter of a tabletop role-playing game. Given an action, say which check applies, its difficulty, and the fair outcome or its possible outcomes. Be brief and impartial.',
      },
      {
        name: 'world_state',
        role: 'keeps track of places, time, who is where, and consequences',
        prompt:
          'You keep the world state of a fantasy campaign: locations, time of day, weather, who is present, and lasting consequences of actions. Given a request, report the relevant state and what changes, as short facts.',
      },
    ],
  ),
  worldbuilding: team(
    'worldbuilding',
    'you build a coherent fictional world with the user.',
    'Scenario: you are a panel of world-building specialists (a geographer, a historian and a cultural anthropologist). Answer the request by building on each other, labelling each specialist, and finish with a short combined summary.',
    [
      {
        name: 'geography',
        role: 'terrain, climate, resources, settlements',
        prompt:
          'You are a geographer for a fictional world. Describe terrain, climate, resources and settlements that fit the request, concretely and plausibly.',
      },
      {
        name: 'cultures',
        role: 'peoples, customs, beliefs, languages',
        prompt:
          'You are a cultural anthropologist for a fictional world. Describe peoples, customs, beliefs and social structures that fit the request, with telling details.',
      },
      {
        name: 'history',
        role: 'past events, conflicts, how things came to be',
        prompt:
          "You are a historian of a fictional world. Describe the past events, conflicts and turning points that explain the request's subject, as a short chronology.",
      },
    ],
  ),
  storytelling: team(
    'storytelling',
    'you tell a story with the user.',
    'Scenario: several narrators tell this story together, each with a different voice (a bard, a chronicler and a trickster). Let them take turns, labelled, and keep the story coherent.',
    [
      {
        name: 'narrator',
        role: 'drafts the narration of a passage',
        prompt:
          'You are a narrator. Write the requested passage of narration: scene, action and atmosphere, in vivid prose, no longer than asked.',
      },
      {
        name: 'character_voice',
        role: 'writes the dialogue of named characters',
        prompt:
          'You write dialogue. Given characters and a situation, write what each says, each with a distinct voice, and nothing else.',
      },
      {
        name: 'editor',
        role: 'checks a draft for coherence and suggests cuts',
        prompt:
          'You are a story editor. Given a draft or an outline, point out inconsistencies and weak spots and propose concrete fixes, briefly.',
      },
    ],
  ),
  problemsolving: team(
    'problemsolving',
    "you solve the user's problem with a small expert panel.",
    'Scenario: an expert panel solves this problem (an analyst, an engineer and a pragmatist). Each gives a short, labelled view, then agree on a clear recommendation.',
    [
      {
        name: 'analyst',
        role: 'breaks the problem down and lists options',
        prompt:
          'You are an analyst. Break the given problem into its parts, state assumptions, and list the realistic options with their trade-offs.',
      },
      {
        name: 'skeptic',
        role: 'finds risks and flaws in a proposal',
        prompt:
          'You are a constructive skeptic. Given a problem or a proposal, name the strongest objections, risks and failure modes, and what would settle them.',
      },
      {
        name: 'synthesizer',
        role: 'combines views into one recommendation',
        prompt:
          'You synthesize. Given several views on a problem, reconcile them into one clear recommendation with the reasons and the next step.',
      },
    ],
  ),
};

export const SCENARIO_TYPES = Object.keys(TEAMS);

/** The specialists as the lead sees them: one `ask_<name>` tool each. */
export function specialistTools(t: ScenarioTeam): ToolDef[] {
  return t.specialists.map((s) => ({
    name: `ask_${s.name}`,
    description: `Ask the ${s.name} specialist (${s.role}). Send a complete, self-contained request.`,
    parameters: {
      type: 'object',
      properties: { request: { type: 'string', description: 'What you need from this specialist' } },
      required: ['request'],
    },
  }));
}
