-- wrk script (wrk -s): each connection waits KARGO_WRK_PAUSE_MS milliseconds before each
-- request, so the load stays bounded (see load_runs.wrk_command).
local pause = tonumber(os.getenv("KARGO_WRK_PAUSE_MS")) or 0

function delay()
    return pause
end
