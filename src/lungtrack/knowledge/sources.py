"""Published sources cited by the rules, in one registry.

Every finding names one of these keys' ``cite`` strings.  The full list, with URLs, is
rendered into docs/rules.md.  Entries come from ../shared/reference/clinical.md; only
primary or clearly labelled secondary sources are used.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    key: str
    cite: str  # short citation shown next to a finding
    title: str
    url: str


_S = [
    Source("eisenhauer2009", "Eisenhauer 2009 (RECIST 1.1), Eur J Cancer 45:228",
           "New response evaluation criteria in solid tumours: revised RECIST guideline (version 1.1)",
           "https://pmc.ncbi.nlm.nih.gov/articles/PMC2872013"),
    Source("recist_faq_pr", "RECIST working group FAQ: managing PR when measurements change",
           "Managing PR when time-point measurements change slightly over time",
           "http://recist.eortc.org/faq/managing-pr-when-tp-measurements-change-slightly-over-time/"),
    Source("recist_faq_sd", "RECIST working group FAQ: the definition of SD",
           "The definition of SD: a clarification", "http://recist.eortc.org/faq/the-definition-of-sd-a-clarification/"),
    Source("recist_new_lesions", "RECIST working group: new lesions",
           "New lesions", "https://recist.eortc.org/group/new-lesions/"),
    Source("recist_qc", "EORTC RECIST questions and clarifications",
           "RECIST questions and clarifications", "https://www.eortc.be/Recist/questions_clarifications.html"),
    Source("recist_faq_new_lesion", "RECIST working group FAQ: does a new lesion always result in PD?",
           "Does a new lesion always result in PD?", "http://recist.eortc.org/faq/does-a-new-lesion-always-result-in-pd/"),
    Source("arrieta2013", "Arrieta 2013, BMC Cancer 13:254",
           "Usefulness of serum CEA in evaluating response to chemotherapy in advanced NSCLC",
           "http://bmccancer.biomedcentral.com/articles/10.1186/1471-2407-13-254"),
    Source("gao2017", "Gao 2017, BMC Cancer 17:484",
           "CEA and progression on EGFR-TKI", "https://bmccancer.biomedcentral.com/articles/10.1186/s12885-017-3474-3"),
    Source("chen2015", "Chen 2015, Medicine",
           "Impact of baseline, trend and normalisation of CEA on survival on first-line EGFR-TKI",
           "https://insights.ovid.com/medi/201512150/00005792-201512150-00034"),
    Source("esmo2018", "ESMO 2018 metastatic NSCLC guideline",
           "Metastatic NSCLC: ESMO Clinical Practice Guidelines (follow-up every 6-9 weeks on targeted therapy; routine CEA not recommended)",
           "https://reference.medscape.com/viewarticle/903892_3"),
    Source("pound1999", "Pound 1999 doubling-time convention (ln 2 / slope of ln value)",
           "Doubling time from a log-linear least-squares fit", "https://sunnybrook.ca/content/?page=asure-pdt"),
    Source("medlineplus_cea", "MedlinePlus CEA reference values",
           "CEA 0-2.5 ug/L non-smokers, 0-5 ug/L smokers", "https://www.reference.com/world-view/normal-cea-level-b9ea5969bf1e7b67"),
    Source("pmc5451759", "Lung-cancer serum markers review (PMC5451759)",
           "CYFRA 21-1, NSE and ProGRP reference values", "https://pmc.ncbi.nlm.nih.gov/articles/PMC5451759"),
    Source("gruber2008", "Gruber 2008",
           "High-specificity levels of lung-cancer markers", "https://epub.ub.uni-muenchen.de/17758/index.html"),
    Source("yu2013", "Yu 2013, Clin Cancer Res 19:2240",
           "Analysis of tumor specimens at the time of acquired resistance to EGFR-TKI therapy in 155 patients",
           "https://aacrjournals.org/clincancerres/article-split/19/8/2240/207432/Analysis-of-Tumor-Specimens-at-the-Time-of"),
    Source("leonetti2019", "Leonetti 2019, Br J Cancer",
           "Resistance mechanisms to osimertinib in EGFR-mutated NSCLC", "https://pmc.ncbi.nlm.nih.gov/articles/PMC6889286"),
    Source("ercan2015", "Ercan 2015, Clin Cancer Res 21:3913",
           "EGFR mutations and resistance to irreversible pyrimidine-based EGFR inhibitors",
           "https://aacrjournals.org/clincancerres/article/21/17/3913/117610/EGFR-Mutations-and-Resistance-to-Irreversible"),
    Source("gainor2016", "Gainor 2016, Cancer Discov 6:1118",
           "Molecular mechanisms of resistance to first- and second-generation ALK inhibitors",
           "https://aacrjournals.org/cancerdiscovery/article/6/10/1118/5429/Molecular-Mechanisms-of-Resistance-to-First-and"),
    Source("lin2021", "Lin 2021, Clin Cancer Res 27:2899",
           "Spectrum of mechanisms of resistance to crizotinib and lorlatinib in ROS1 fusion-positive lung cancer",
           "https://aacrjournals.org/clincancerres/article/27/10/2899/665682/Spectrum-of-Mechanisms-of-Resistance-to-Crizotinib"),
    Source("santoni2019", "Santoni-Rugiu 2019, Cancers 11:923",
           "Intrinsic resistance to EGFR-TKIs (20-30 % do not respond or respond < 3 months)",
           "https://pmc.ncbi.nlm.nih.gov/articles/PMC6678669"),
    Source("aura3", "AURA3 (Mok 2017; PMC6762027)",
           "Osimertinib vs platinum-pemetrexed after T790M: PFS 10.1 vs 4.4 months", "https://pmc.ncbi.nlm.nih.gov/articles/PMC6762027"),
    # --- added with the drug table, marker, variant and timing rules -------------------------
    Source("egfr_tki_pfs", "First-line EGFR-TKI trials, PFS tables (PMC5696571; PMC7930417)",
           "IPASS, WJTOG3405, NEJ002, EURTAC, OPTIMAL, LUX-Lung 3/6 median PFS",
           "https://pmc.ncbi.nlm.nih.gov/articles/PMC5696571/table/T2"),
    Source("archer1050", "ARCHER 1050 (ASCO 2018 report)",
           "Dacomitinib vs gefitinib first line: PFS 14.7 vs 9.2 months",
           "https://specialty.mims.com/topic/archer-1050--dacomitinib-shows-superior-os-vs-gefitinib-in-first-line-egfr-positive-nsclc?conference=american-society-of-clinical-oncology--asco--2018-annual-meeting"),
    Source("flaura", "FLAURA (Soria 2018; PMC6468595)",
           "Osimertinib vs gefitinib/erlotinib first line: PFS 18.9 vs 10.2 months",
           "https://pmc.ncbi.nlm.nih.gov/articles/PMC6468595"),
    Source("aeneas", "AENEAS (ASCO Post 2022)",
           "Aumolertinib vs gefitinib first line: PFS 19.3 vs 9.9 months",
           "https://ascopost.com/news/june-2022/aumolertinib-vs-gefitinib-in-patients-with-advanced-nsclc-and-egfr-exon-19-deletion-or-l858r-mutation"),
    Source("furlong", "FURLONG (PMID 35662408)",
           "Furmonertinib vs gefitinib first line: PFS 20.8 vs 11.1 months", "http://www.pubmed.gov/35662408/"),
    Source("mariposa", "MARIPOSA (ESMO news on FDA approval, 2024)",
           "Amivantamab + lazertinib vs osimertinib first line: PFS 23.7 vs 16.6 months",
           "https://esmo.org/oncology-news/fda-approves-lazertinib-with-amivantamab-vmjw-for-locally-advanced-or-metastatic-nsclc-with-egfr-exon-19-deletions-or-exon-21-l858r-substitution-mutations"),
    Source("papillon", "PAPILLON (ILCN report on FDA approval, 2024)",
           "Amivantamab + chemotherapy, EGFR exon 20 insertion, first line: PFS 11.4 vs 6.7 months",
           "https://www.ilcn.org/us-fda-approves-frontline-amivantamab-combination-for-patients-with-egfr-exon-20-insertion-mutated-nsclc/"),
    Source("alk_ros1_pfs", "ALK/ROS1/BRAF trial PFS table (CCJM)",
           "PROFILE 1014, ASCEND-4, ALTA-1L, ROS1 and BRAF single-arm median PFS",
           "https://ccjmprodcopy-stage.highwire.org/highwire/markup/10716/expansion?height=500&iframe=true&width=1000"),
    Source("alex", "ALEX (PMID 32418886)", "Alectinib vs crizotinib first line: PFS 34.8 vs 10.9 months",
           "https://pubmed.ncbi.nlm.nih.gov/32418886/"),
    Source("alta1l", "ALTA-1L (PMC7605398)", "Brigatinib vs crizotinib first line: PFS 24.0 vs 11.0 months",
           "https://pmc.ncbi.nlm.nih.gov/articles/PMC7605398"),
    Source("crown", "CROWN (lorlatinib vs crizotinib; 5-year update)",
           "Lorlatinib first line: median PFS not reached vs 9.1 months; 5-year PFS 60 % vs 8 %",
           "https://www.cancernetwork.com/view/lorlatinib-improves-long-term-efficacy-in-advanced-alk-nsclc"),
    Source("codebreak100", "CodeBreaK 100 (sotorasib, 2021)", "Sotorasib after earlier therapy, KRAS G12C: PFS 6.8 months",
           "https://journaljams.org/study/codebreak-100-2021.html"),
    Source("mu2020", "Mu 2020, J Cancer Res Clin Oncol (mirror, secondary)",
           "Acquired resistance to osimertinib after T790M: about half keep T790M, half lose it",
           "https://cupdf.com/document/acquir-esistanc-tien-aac-canc-comes-lung-cancer-is-the-leading-cause-of.html"),
    Source("flaura_plasma", "FLAURA paired-plasma analysis (Ramalingam, ESMO 2018; OncLive report, secondary)",
           "Acquired resistance to first-line osimertinib: MET amplification and C797S most common; no T790M",
           "https://onclive-r5wbompyk-mjhls.vercel.app/view/met-egfr-c797s-linked-with-acquired-resistance-to-frontline-osimertinib-in-nsclc"),
    Source("lungtrack_design", "lungtrack design choice (not a validated clinical rule)",
           "Rules chosen by lungtrack where no study or guideline defines a trigger; see docs/rules.md", ""),
]

SOURCES: dict[str, Source] = {s.key: s for s in _S}


def cite(key: str) -> str:
    """The short citation for ``key`` (raises KeyError for an unknown key, so tests catch typos)."""
    return SOURCES[key].cite
