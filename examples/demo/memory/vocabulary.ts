/**
 * The words the corpus is built from. A topic keeps a generated thread on one subject, so that a
 * thread's summary and a search's top hits read as something rather than word salad.
 */
export interface Topic {
  readonly name: string;
  readonly nouns: readonly string[];
  readonly adjectives: readonly string[];
}

// Word lists as one string each: a list per line would make this file a thousand lines long.
const list = (words: string): readonly string[] => words.trim().split(/\s+/);

export const TOPICS: readonly Topic[] = [
  {
    name: 'engineering',
    nouns: list(`deployment pipeline database migration latency cache cluster schema incident
      rollback dashboard endpoint queue index replica benchmark release branch container
      certificate gateway scheduler socket backup`),
    adjectives: list('flaky slow stable broken green noisy fresh stale idle'),
  },
  {
    name: 'cooking',
    nouns: list(`risotto sourdough saffron lentils pastry broth oven skillet basil tomatoes
      dumplings marinade curry fennel ginger custard pesto rye butter recipe dough glaze vinegar
      chickpeas`),
    adjectives: list('crispy spicy smoky tender salty sweet bitter creamy'),
  },
  {
    name: 'travel',
    nouns: list(`train ferry passport hostel itinerary luggage visa airport glacier harbour trail
      border ticket museum village island canyon map campsite bridge lighthouse volcano market
      tram`),
    adjectives: list('crowded remote scenic delayed cheap windy quiet steep'),
  },
  {
    name: 'music',
    nouns: list(`guitar chorus rehearsal setlist drummer album melody cello tempo microphone
      concert playlist harmony vinyl synthesizer lyrics bassline orchestra amplifier metronome
      piano verse studio festival`),
    adjectives: list('loud mellow catchy tight acoustic groovy haunting raw'),
  },
  {
    name: 'health',
    nouns: list(`sleep running stretching appointment vitamins knee posture hydration swimming
      dentist allergy yoga breakfast cholesterol marathon physio headache walk meditation protein
      bike checkup injury pulse`),
    adjectives: list('sore rested tired steady early gentle intense regular'),
  },
  {
    name: 'finance',
    nouns: list(`budget invoice mortgage savings taxes pension receipt subscription refund salary
      insurance loan portfolio dividend expenses rent contract deposit audit payroll forecast
      ledger quote fees`),
    adjectives: list('overdue quarterly annual monthly fixed unexpected small'),
  },
  {
    name: 'garden',
    nouns: list(`tomato compost seedlings hedge roses greenhouse mulch orchard soil beans lavender
      irrigation weeds pruning bulbs lawn snails trellis pumpkins strawberries frost shed rake
      beehive`),
    adjectives: list('wild dry muddy sunny shady overgrown fragrant ripe'),
  },
];

export const PEOPLE = list(`alice bruno chloe dmitri elena farid grace hugo ines jonas karim lea
  mateo nadia oscar priya quentin rosa samir tomoko ulla victor wen yasmin zoe`);

export const PROJECTS = list(`orion vega nimbus atlas juniper pollux kestrel marlin sequoia tundra
  zephyr cobalt halcyon lumen quartz topaz umbra vertex willow`);

export const VERBS = list(`fixed moved booked cancelled reviewed postponed finished started checked
  ordered tried skipped planned forgot shared repaired measured tested cleaned replaced renewed
  doubled tracked packed`);

export const DAYS = list('monday tuesday wednesday thursday friday saturday sunday');

export const MONTHS = list(`january february march april may june july august september october
  november december`);
