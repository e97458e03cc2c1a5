// What a version relies on: its permutation importance (computed at push on the validation rows, signed in
// the manifest's lineage) as a bar list "feature — share %", largest first, beside the drift of the same
// feature names on the model page.

import type { ModelVersionView } from './api-types.js';
import { card, el } from './dom.js';
import { fmtNum, pct } from './format.js';

type Importance = NonNullable<ModelVersionView['manifest']['lineage']['importance']>;

const METRIC_TEXT: Record<Importance['metric'], string> = {
  accuracy: 'accuracy drop',
  'prediction-change': 'predictions changed',
  'squared-change': 'squared change of the value',
};

/** One version's bars, largest share first. */
function importanceList(version: string, imp: Importance): HTMLElement {
  const rows = imp.features
    .slice()
    .sort((a, b) => b.share - a.share)
    .map((f) => {
      const fill = el('span', { class: 'fill' });
      fill.style.width = (f.share * 100).toFixed(1) + '%'; // CSSOM, not a style attribute: the CSP allows no inline styles
      return el('li', { class: 'importance-row', 'data-feature': f.name, 'data-share': f.share }, [
        el('span', { class: 'feature', text: f.name, title: f.name }),
        el('span', { class: 'bar', role: 'img', 'aria-label': pct(f.share, 0), title: METRIC_TEXT[imp.metric] + ' ' + fmtNum(f.drop) }, [fill]),
        el('span', { class: 'share', text: pct(f.share, 0) }),
      ]);
    });
  const how = 'permutation importance, ' + METRIC_TEXT[imp.metric] + ' on ' + fmtNum(imp.rows) + ' validation rows × ' + imp.repeats + ' shuffles';
  return el('div', { class: 'importance', 'data-version': version }, [el('h3', { text: version }), el('p', { class: 'muted small', text: how }), el('ol', { class: 'importance-list' }, rows)]);
}

/** The importance of the versions picked for comparison, newest first; says how to get it when none has any. */
export function importanceCard(versions: readonly ModelVersionView[], chosen: readonly string[]): HTMLElement {
  const lists = versions
    .filter((v) => chosen.includes(v.version))
    .slice()
    .reverse()
    .flatMap((v) => (v.manifest.lineage?.importance ? [importanceList(v.version, v.manifest.lineage.importance)] : []));
  const none = el('p', { class: 'muted', text: 'No feature importance for these versions: it is computed at push from --validation rows.' });
  return card('Feature importance', lists.length ? lists : [none], 'card-importance');
}
