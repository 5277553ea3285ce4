-- nn.train_epoch: one pass over a data loader (zero_grad, forward, loss, backward, step), with a
-- progress bar on a terminal and a line every 100 batches otherwise.  Shared by the examples
-- and lessons that train in the ordinary way; anything unusual writes its own loop.
local nb = require 'nabla'
local M = {}

-- opts: sched (stepped after every batch), losses (a list each batch's loss is appended to),
-- label (shown on the bar), quiet (no output at all).  Returns the mean loss of the epoch.
function M.train_epoch(model, loader, loss_fn, opt, opts)
  opts = opts or {}
  local ok_plot, plot = pcall(require, 'plot')
  local label = opts.label or 'epoch'
  local bar = not opts.quiet and ok_plot and plot.progress(#loader, {label = label, summary = true})
  local running, seen = 0, 0
  for xb, yb in loader:iter() do
    opt:zero_grad()
    local loss = loss_fn(model(xb), yb)
    loss:backward()
    opt:step()
    if opts.sched then opts.sched:step() end
    local l = loss:item()
    if opts.losses then opts.losses[#opts.losses + 1] = l end
    running, seen = running + l, seen + 1
    if bar then
      bar:update({loss = running / seen})
    elseif not opts.quiet and seen % 100 == 0 then
      print(string.format('%s  batch %4d/%d  loss %.4f', label, seen, #loader, running / seen))
    end
  end
  if bar then bar:done() end
  return seen > 0 and running / seen or 0 / 0
end

nb.doc(M.train_epoch, 'nn.train_epoch(model, loader, loss_fn, opt, {sched=, losses=, label=, ' ..
       'quiet=}) — one training pass with a progress bar; returns the mean loss')
return M
