-- metrics: each against values worked out by hand (shown in the comments) or quoted from
-- scikit-learn / SciPy documentation examples, plus ties and the error messages.
local nb = require 'nabla'
local H = require 'harness'
local metrics = require 'metrics'

local i64 = {dtype = 'i64'}

-- accuracy ------------------------------------------------------------------------------------
local pred = {1, 2, 3, 3, 2, 1}
local target = {1, 2, 3, 2, 2, 3}
H.close(metrics.accuracy(pred, target), 4 / 6, 1e-15, 'accuracy of lists')
H.close(metrics.accuracy(nb.tensor(pred, i64), nb.tensor(target, i64)), 4 / 6, 1e-15,
        'accuracy of i64 tensors')
local logits = nb.tensor({{2, 1, 0}, {0, 3, 1}, {0, 0, 5}, {1, 0, 0}})   -- argmax 1, 2, 3, 1
H.close(metrics.accuracy(logits, nb.tensor({1, 2, 3, 2}, i64)), 0.75, 1e-15, 'logits are argmax-ed')
H.close(metrics.accuracy(logits, {1, 2, 3, 2}), 0.75, 1e-15, 'logits against a list')
H.checkerror('predictions have 3 entries but targets have 2', metrics.accuracy, {1, 2, 3}, {1, 2})
H.checkerror('predictions have 4 entries but targets have 2', metrics.accuracy, logits,
             nb.tensor({1, 2}, i64))
H.checkerror('expected an integer class id', metrics.accuracy, {1.5}, {1})

-- confusion matrix (rows = true class):
--   true 1: predicted 1          -> [1, 0, 0]
--   true 2: predicted 2, 2, 3    -> [0, 2, 1]
--   true 3: predicted 3, 1       -> [1, 0, 1]
local cm = metrics.confusion_matrix(pred, target)
H.check(cm.dtype == 'i64', 'confusion matrix is i64')
H.close(cm:totable(), {{1, 0, 0}, {0, 2, 1}, {1, 0, 1}}, 0, '3-class confusion matrix')
H.close(metrics.confusion_matrix(pred, target, 4):totable(),
        {{1, 0, 0, 0}, {0, 2, 1, 0}, {1, 0, 1, 0}, {0, 0, 0, 0}}, 0, 'num_classes pads')
H.checkerror('pred[3] = 3 is not a class id in 1..2', metrics.confusion_matrix, pred, target, 2)
H.checkerror('target[1] = 0 is not a class id', metrics.confusion_matrix, {1}, {0}, 2)

-- precision / recall / F1 from the matrix above:
--   precision = column: [1/2, 2/2, 1/2]; recall = row: [1/1, 2/3, 1/2]
--   F1 = 2PR/(P+R): [2/3, 4/5, 1/2]
local P, R, F = metrics.precision_recall_f1(pred, target)
H.close(P, {0.5, 1, 0.5}, 1e-15, 'per-class precision')
H.close(R, {1, 2 / 3, 0.5}, 1e-15, 'per-class recall')
H.close(F, {2 / 3, 0.8, 0.5}, 1e-15, 'per-class F1')
H.check(P.dtype == 'f64' and P:numel() == 3, 'per-class results are f64 [C]')
local mp, mr, mf = metrics.precision_recall_f1(pred, target, {average = 'macro'})
H.close({mp, mr, mf}, {2 / 3, (1 + 2 / 3 + 0.5) / 3, (2 / 3 + 0.8 + 0.5) / 3}, 1e-15,
        'macro: means of the per-class values (F1 too, as sklearn)')
local up, ur, uf = metrics.precision_recall_f1(pred, target, {average = 'micro'})
H.close({up, ur, uf}, {4 / 6, 4 / 6, 4 / 6}, 1e-15, 'micro = accuracy for single-label')
local zp, zr, zf = metrics.precision_recall_f1({1, 1}, {1, 1}, {num_classes = 2})
H.close({zp:get(2), zr:get(2), zf:get(2)}, {0, 0, 0}, 0, 'a class never seen scores 0')
H.checkerror("average must be 'macro', 'micro' or nil", metrics.precision_recall_f1, pred,
             target, {average = 'weighted'})

-- ROC ----------------------------------------------------------------------------------------
-- scikit-learn's roc_auc_score example: y = [0, 0, 1, 1], scores [0.1, 0.4, 0.35, 0.8] -> 0.75
local scores, labels = {0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}
H.close(metrics.roc_auc(scores, labels), 0.75, 1e-15, 'ROC AUC of the sklearn example')
H.close(metrics.roc_auc(nb.tensor(scores), nb.tensor(labels, i64)), 0.75, 1e-15, 'from tensors')
local fpr, tpr, thr = metrics.roc_curve(scores, labels)
-- thresholds +inf, 0.8, 0.4, 0.35, 0.1 -> (fpr, tpr) (0,0) (0,.5) (.5,.5) (.5,1) (1,1)
H.close(fpr, {0, 0, 0.5, 0.5, 1}, 1e-15, 'roc fpr')
H.close(tpr, {0, 0.5, 0.5, 1, 1}, 1e-15, 'roc tpr')
H.check(thr:get(1) == math.huge and math.abs(thr:get(5) - 0.1) < 1e-12, 'roc thresholds')
-- ties: scores {1, 1, 0} labels {1, 0, 0}: the tied pair is one diagonal step to (0.5, 1),
-- area 1/2 * 1/2 + 1/2 * 1 = 0.75 = Mann-Whitney (1 win + 1 tie * 1/2) / 2 pairs
H.close(metrics.roc_auc({1, 1, 0}, {1, 0, 0}), 0.75, 1e-15, 'ties count half')
fpr, tpr = metrics.roc_curve({1, 1, 0}, {1, 0, 0})
H.close(fpr, {0, 0.5, 1}, 1e-15, 'a tie group is one ROC point')
H.close(metrics.roc_auc({0.5, 0.5, 0.5, 0.5}, {0, 1, 0, 1}), 0.5, 1e-15, 'all tied: 0.5')
H.close(metrics.roc_auc({3, 2, 1}, {1, 0, 0}), 1, 1e-15, 'perfect ranking: 1')
H.close(metrics.roc_auc({1, 2, 3}, {1, 0, 0}), 0, 1e-15, 'reversed ranking: 0')
H.close(metrics.roc_auc({0.2, 0.9, 0.6, 0.6, 0.1}, {true, true, false, true, false}),
        -- pairs (pos, neg): (0.2,0.6) 0, (0.2,0.1) 1, (0.9,*) 2, (0.6,0.6) 0.5, (0.6,0.1) 1
        4.5 / 6, 1e-15, 'booleans as labels, a tie across classes')
local f1, t1 = metrics.fpr_tpr(scores, labels, 0.38)   -- predicted positive: 0.4, 0.8
H.close({f1, t1}, {0.5, 0.5}, 1e-15, 'fpr and tpr at a threshold')
H.checkerror('labels must be 0 or 1', metrics.roc_auc, {0.1, 0.2}, {1, 2})
H.checkerror('needs both classes, got 2 positives and 0 negatives', metrics.roc_auc,
             {0.1, 0.2}, {1, 1})
H.checkerror('3 scores but 2 labels', metrics.roc_curve, {1, 2, 3}, {0, 1})

-- precision-recall: the same example, thresholds +inf, 0.8, 0.4, 0.35, 0.1
--   tp/fp: 0/0, 1/0, 1/1, 2/1, 2/2 -> precision 1, 1, 1/2, 2/3, 1/2; recall 0, .5, .5, 1, 1
local prec, rec = metrics.pr_curve(scores, labels)
H.close(prec, {1, 1, 0.5, 2 / 3, 0.5}, 1e-15, 'pr precision')
H.close(rec, {0, 0.5, 0.5, 1, 1}, 1e-15, 'pr recall')
-- sklearn's average_precision_score example on these data: 0.8333 = 0.5 * 1 + 0.5 * 2/3
H.close(metrics.average_precision(scores, labels), 0.5 + 1 / 3, 1e-15, 'average precision')

-- correlation --------------------------------------------------------------------------------
-- x = 1..5, y = 2,4,5,4,5: sxy = 6, sxx = 10, syy = 6 -> r = 6 / sqrt(60) = 0.7745966692414834
H.close(metrics.pearson({1, 2, 3, 4, 5}, {2, 4, 5, 4, 5}), 6 / math.sqrt(60), 1e-15, 'pearson')
H.close(metrics.pearson(nb.tensor({1, 2, 3}), nb.tensor({-2, -4, -6})), -1, 1e-7, 'pearson -1')
-- ties get average ranks: {1,2,2,3} -> 1, 2.5, 2.5, 4; {1,3,2,4} -> 1,3,2,4; r = sqrt(0.9)
-- (scipy.stats.spearmanr([1,2,2,3],[1,3,2,4]) = 0.9486832980505138)
H.close(metrics.spearman({1, 2, 2, 3}, {1, 3, 2, 4}), math.sqrt(0.9), 1e-15, 'spearman with ties')
H.close(metrics.spearman({1, 2, 3, 4}, {1, 8, 27, 64}), 1, 1e-15, 'spearman of a monotone map')
H.close(metrics.spearman({10, 20, 30}, {3, 2, 1}), -1, 1e-15, 'spearman -1')
local c = metrics.pearson({1, 1, 1}, {1, 2, 3})
H.check(c ~= c, 'pearson of a constant is NaN')
H.checkerror('a has 3 entries but b has 2', metrics.pearson, {1, 2, 3}, {1, 2})
H.checkerror('needs at least 2 pairs', metrics.spearman, {1}, {1})

-- docs -----------------------------------------------------------------------------------------
local missing = {}
for k, v in pairs(metrics) do
  if type(v) == 'function' and not nb._docs[v] then missing[#missing + 1] = k end
end
H.check(#missing == 0, 'every metrics function has a doc: missing %s', table.concat(missing, ', '))

H.report()
