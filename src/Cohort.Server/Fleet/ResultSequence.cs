using Cohort.Transport.V1;
using Grpc.Core;

namespace Cohort.Server.Fleet;

/// <summary>
/// The results a <c>PushResults</c> call carries, one at a time: as a reader it yields one result's messages, from its
/// header up to (not including) the next header, so the code that receives a single pushed result reads it unchanged.
/// What a result's reader left unread (the parameters of a result refused from its header) is skipped on the way to
/// the next header, up to <paramref name="maxSkipBytes"/> a result (past that the call is refused: a node that stopped
/// sending headers).
/// </summary>
internal sealed class ResultSequence(IAsyncStreamReader<ResultMessage> stream, long maxSkipBytes) : IAsyncStreamReader<ResultMessage>
{
    private ResultMessage? _next;
    private bool _headerGiven;
    private bool _ended;

    /// <summary>The header of the result <see cref="NextAsync"/> moved to.</summary>
    public ResultHeader Header => _next?.Header ?? Current.Header;

    /// <inheritdoc />
    public ResultMessage Current { get; private set; } = new();

    /// <summary>Moves to the next result's header, skipping what is left of the last; false when the call ended.</summary>
    public async Task<bool> NextAsync(CancellationToken ct)
    {
        long skipped = 0;
        while (_next is null)
        {
            if (_ended || !await stream.MoveNext(ct))
            {
                _ended = true;
                return false;
            }
            if (stream.Current.BodyCase == ResultMessage.BodyOneofCase.Header) _next = stream.Current;
            else if ((skipped += stream.Current.CalculateSize()) > maxSkipBytes)
                throw new RpcException(new Status(StatusCode.ResourceExhausted, $"more than {maxSkipBytes} bytes of result messages without a result header"));
        }
        _headerGiven = false;
        return true;
    }

    /// <inheritdoc />
    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        if (!_headerGiven && _next is not null)
        {
            Current = _next;
            _next = null;
            _headerGiven = true;
            return true;
        }
        // This result ended at the next one's header: nothing more of it to read.
        if (_next is not null) return false;
        if (_ended || !await stream.MoveNext(cancellationToken))
        {
            _ended = true;
            return false;
        }
        if (stream.Current.BodyCase == ResultMessage.BodyOneofCase.Header)
        {
            // The next result's start: this one ends here.
            _next = stream.Current;
            return false;
        }
        Current = stream.Current;
        return true;
    }
}
